"""Reading ``tshark -T json`` output in tests: one walker for field values and expert items.

tshark's JSON nests every protocol tree as objects keyed by the display filter field name
(``"ngap.procedureCode": "4"``), with subtrees under ``"<label>_tree"`` keys and, when run with
``--no-duplicate-keys``, repeated fields merged into a list of strings. A test asks which values
a named field took anywhere below a layer; a field that is absent has no key in the result, so
``got["x"]`` or an equality with the expected dict fails when tshark did not decode it.

Importable from every test folder: ``tests/conftest.py`` sits beside this file, and pytest's
default ``prepend`` import mode puts the directory of a conftest that is not in a package
(``tests/`` has no ``__init__.py``) at the front of ``sys.path`` before it collects any test.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

# `_ws.expert.severity` values (epan/proto.h PI_SEVERITY_MASK): chat 0x200000, note 0x400000,
# warn 0x600000, error 0x800000. A malformed packet ranks above all of them.
SEV_WARN = 0x00600000
SEV_ERROR = 0x00800000
SEV_MALFORMED = 1 << 30


def packets(stdout: str) -> list[dict[str, Any]]:
    """The ``_source.layers`` object of each frame in ``tshark -T json`` output, in order."""
    return [p["_source"]["layers"] for p in json.loads(stdout)]


def _entries(tree: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of every object below ``tree``, in document order, each before
    the entries inside its value."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield k, v
            yield from _entries(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _entries(v)


def fields(tree: Any, names: Collection[str] | None = None) -> dict[str, list[str]]:
    """Every value each field takes anywhere in ``tree`` (a frame's layers or one layer), in
    document order: ``{field name: [values]}``. With ``names``, only those fields are kept.

    A string value counts once; a list of strings (``--no-duplicate-keys`` merging repeated
    fields) counts each item. Subtree objects are walked, never counted as values."""
    found: dict[str, list[str]] = {}
    for k, v in _entries(tree):
        if names is not None and k not in names:
            continue
        if isinstance(v, str):
            found.setdefault(k, []).append(v)
        elif isinstance(v, list) and v and all(isinstance(i, str) for i in v):
            found.setdefault(k, []).extend(v)
    return found


def experts(tree: Any) -> list[tuple[str, int]]:
    """The expert items below ``tree`` as ``(message, severity)``; a malformed-packet marker
    counts as ``("malformed", SEV_MALFORMED)`` so one severity threshold catches both."""
    out: list[tuple[str, int]] = []
    for k, v in _entries(tree):
        if k == "_ws.malformed":
            out.append(("malformed", SEV_MALFORMED))
        elif k == "_ws.expert" and isinstance(v, dict):
            out.append((str(v.get("_ws.expert.message", v)), int(v.get("_ws.expert.severity", "0"))))
    return out


def expert_problems(tree: Any, threshold: int = SEV_WARN) -> list[str]:
    """Messages of the expert items at or above ``threshold`` (default: warnings and worse)."""
    return [m for m, sev in experts(tree) if sev >= threshold]


def tshark_verbose(path: Any, prefs: Collection[str] = ()) -> str:
    """``tshark -r path -V`` as text, asserting that no packet is malformed and no expert item
    reaches warning or error (the verbose text's own markers)."""
    import subprocess

    out = subprocess.run(["tshark", "-r", str(path), "-V", *prefs], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert "Malformed Packet" not in out
    assert "[Expert Info (Error" not in out and "[Expert Info (Warning" not in out
    return out


def assert_read_back(path: Any, expected: list[dict[str, list[str]]], prefs: Collection[str] = ()) -> None:
    """tshark decodes the pcap at ``path`` to exactly ``expected``: one dict per frame of the
    field values the test wrote, each read back the same, with no expert warning or error."""
    import subprocess

    out = subprocess.run(["tshark", "-r", str(path), "-T", "json", "-V", *prefs],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    frames = packets(out)
    assert len(frames) == len(expected)
    for i, (layers, want) in enumerate(zip(frames, expected, strict=True), start=1):
        bad = expert_problems(layers)
        assert not bad, f"frame {i}: {bad}"
        assert fields(layers, set(want)) == want, f"frame {i}"
