"""The docs stay true to the code: docs/configuration.md to :mod:`fivecore.config` (every key of
the pydantic models is documented, every key the tables document exists), and README.md's and
docs/configuration.md's ``fivecore ...`` commands to the CLI (each sub-command and option exists).

The tables' first column names keys in backticks, with the shorthands a reader follows:
``amf.ngap.address``, ``.port`` (a sibling: ``amf.ngap.port``), ``amf.timers.t3550``, ``t3560``
(a sibling too), ``pcf.default_session_ambr_ul``, ``_dl`` (the last ``_part`` replaced) and
``<nf>.sbi.port`` (every NF section the heading lists). Fields of the items of a list (``smf.dnns``:
``ipv4_pool``, ...) are documented in their list's row, by name anywhere in it. Free-form
mappings (``amf.routes``, ``metrics.ports``, ``trust``) are one key."""

from __future__ import annotations

import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fivecore.config import Config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside a field's annotation (``X``, ``X | None``, ``list[X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is dict:  # a free-form mapping: documented as one key
        return []
    if origin in (list, tuple, set, typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return []


class Key(typing.NamedTuple):
    """One dotted config key: the model it is a field of, and whether it is a section (a
    nested model, not in a list: its own keys are documented, not it)."""

    owner: type[BaseModel]
    section: bool


def model_keys(model: type[BaseModel]) -> dict[str, Key]:
    """Every dotted key of ``model``, nested sections and the items of lists included."""
    out: dict[str, Key] = {}

    def walk(m: type[BaseModel], pre: str) -> None:
        for name, field in m.model_fields.items():
            key = f"{pre}{name}"
            ann = field.annotation
            listed = typing.get_origin(ann) is list or any(typing.get_origin(a) is list for a in typing.get_args(ann))
            subs = _models(ann)
            out[key] = Key(m, bool(subs) and not listed)
            for sub in subs:
                walk(sub, key + ".")

    walk(model, "")
    return out


_NF_SECTIONS = ("nrf", "ausf", "udm", "udr", "amf", "smf", "pcf", "nssf")


def doc_rows() -> list[tuple[list[str], str]]:
    """Each table row of the document: (the keys its first column names, the whole row)."""
    rows: list[tuple[list[str], str]] = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ")[0]
        keys: list[str] = []
        prev: str | None = None
        for tok in re.findall(r"`([^`]+)`", first):
            if tok.startswith("."):
                assert prev, line
                key = prev.rsplit(".", 1)[0] + tok
            elif tok.startswith("_") and prev:
                key = prev.rsplit("_", 1)[0] + tok
            elif "." not in tok and prev:
                key = prev.rsplit(".", 1)[0] + "." + tok
            else:
                key = tok
            keys.append(key)
            prev = key
        expanded = [k.replace("<nf>", nf) for k in keys for nf in _NF_SECTIONS] if any(
            "<nf>" in k for k in keys) else keys
        rows.append((expanded, line))
    return rows


def _named_in_an_enclosing_row(key: str, rows: list[tuple[list[str], str]]) -> bool:
    """``smf.dnns.ipv4_pool`` in the row of ``smf.dnns``, ``amf.sbi.tls.cert`` in that of
    ``amf.sbi.tls``: the field's name, as a word, in the row of a key that encloses it."""
    name = key.rsplit(".", 1)[1]
    return any(key.startswith(k + ".") and re.search(rf"\b{re.escape(name)}\b", line)
               for keys, line in rows for k in keys)


def undocumented(keys: dict[str, Key], rows: list[tuple[list[str], str]]) -> list[str]:
    """The keys no row names, directly or in an enclosing key's row. A field of a model that is
    documented at one place (``amf.slices``: ``sst``, ``sd``) counts as documented at the
    others (``smf.dnns.slices``): the reader learns the shape once."""
    direct = {k for ks, _ in rows for k in ks}
    found = {k for k, v in keys.items() if v.section or k in direct or _named_in_an_enclosing_row(k, rows)}
    shapes = {(keys[k].owner, k.rsplit(".", 1)[-1]) for k in found if not keys[k].section and "." in k}
    return sorted(k for k, v in keys.items()
                  if k not in found and (v.owner, k.rsplit(".", 1)[-1]) not in shapes)


def test_every_config_key_is_documented() -> None:
    keys = model_keys(Config)
    rows = doc_rows()
    assert undocumented(keys, rows) == [], "add them to docs/configuration.md"


def test_every_documented_key_exists() -> None:
    keys = model_keys(Config)
    stale = sorted({k for ks, _ in doc_rows() for k in ks if k not in keys})
    assert stale == [], "documented, but no such key in fivecore.config"


def test_the_walker_sees_nested_and_list_keys() -> None:
    """The walk itself: nested sections, list items and the UPF's section from its own module."""
    keys = model_keys(Config)
    assert keys["amf.timers"].section and not keys["amf.timers.t3512"].section
    assert not keys["smf.dnns"].section and keys["smf.upfs.slices.sd"].owner.__name__ == "SliceConfig"
    assert "upf.ipv6_ra.mtu" in keys and "udr.mgmt.token_file" in keys
    assert "amf.routes" in keys and not any(k.startswith("amf.routes.") for k in keys)


# --- the commands README.md and docs/configuration.md show exist, with those options ----------

_DOCS = (DOC.parents[1] / "README.md", DOC)


def _command_lines(text: str) -> list[str]:
    """What follows ``fivecore`` in each shell line of a code block and each inline code span
    that starts with ``fivecore``, up to a comment or a pipe."""
    out: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        spans = [line] if in_block else re.findall(r"`(fivecore [^`]+)`", line)
        for span in spans:
            m = re.search(r"(?:^|[\s/])fivecore\s+(.*)", span.split(" #")[0].split("|")[0])
            if m:
                out.append(m.group(1))
    return out


def test_documented_commands_and_options_exist() -> None:
    import typer

    from fivecore.cli.main import app

    root = typer.main.get_command(app)
    problems: list[str] = []
    seen = 0
    for doc in _DOCS:
        for rest in _command_lines(doc.read_text()):
            cmd: Any = root  # typer's own click: groups have ``commands``
            path = ["fivecore"]
            words = rest.replace("[", " ").replace("]", " ").split()
            for w in words:
                if w.startswith("-"):
                    break
                sub = getattr(cmd, "commands", {}).get(w)
                if sub is None:
                    break
                cmd, path = sub, [*path, w]
            if path == ["fivecore"] and words and not words[0].startswith("-"):
                problems.append(f"{doc.name}: no command `fivecore {words[0]}`")
                continue
            opts = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
            for w in words:
                opt = w.split("=", 1)[0]
                if opt.startswith("--") and opt not in opts:
                    problems.append(f"{doc.name}: `{' '.join(path)}` has no option {opt}")
            seen += 1
    assert seen >= 15, "the parser found too few commands to check"
    assert problems == [], problems
