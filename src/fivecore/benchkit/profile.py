"""Where the core's CPU goes: py-spy samples a running process from outside.

py-spy reads the interpreter's stacks through ``process_vm_readv`` (root or ptrace rights), so
the profiled NF runs unmodified and at nearly full speed — cProfile inside the process would
slow every call and distort the very numbers we want. ``--format raw`` gives collapsed stacks
("frame;frame;frame count"), which :func:`summarize` folds into self and inclusive shares per
function and a coarse split per area (NAS, NGAP, SBI/HTTP/2, crypto, SCTP, asyncio, ...).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

#: coarse buckets, first match of the frame's file path wins (checked innermost frame first)
AREAS: list[tuple[str, str]] = [
    ("pycrate (NGAP/NAS ASN.1 codecs)", r"(^|/)pycrate_"),
    ("security (Milenage, KDF, NIA/NEA, SUCI)", r"fivecore/security/|cryptography/"),
    ("wire codecs (ours)", r"fivecore/wire/"),
    ("SCTP transport", r"fivecore/transport/sctp/"),
    ("HTTP/2 SBI transport", r"fivecore/transport/http2/|(^|/)h2/|(^|/)hpack/"),
    ("subscriber store (SQLAlchemy/SQLite)", r"fivecore/store/|(^|/)sqlalchemy/|sqlite3"),
    ("pydantic / JSON", r"pydantic|(^|/)json/"),
    ("logging / metrics", r"(^|/)logging/|prometheus_client|fivecore/obs/"),
    ("NF logic", r"fivecore/nf/"),
    ("asyncio / event loop", r"asyncio/|uvloop"),
]


def available() -> bool:
    return shutil.which("py-spy") is not None or Path(_venv_pyspy()).exists()


def _venv_pyspy() -> str:
    import sys

    return str(Path(sys.executable).parent / "py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 200) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` into ``out`` (collapsed stacks); returns the process."""
    exe = shutil.which("py-spy") or _venv_pyspy()
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", str(rate),
         "--format", "raw", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse_collapsed(text: str) -> list[tuple[list[tuple[str, str]], int]]:
    """Collapsed stacks -> [(frames outermost first as (function, file), samples)]."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = []
        for f in stack.split(";"):
            m = _FRAME.match(f)
            frames.append((m.group("func"), m.group("file")) if m else (f, ""))
        out.append((frames, int(n)))
    return out


#: frames every sample passes through (start-up, CLI, the loop itself): no information
_WRAPPER = re.compile(r"runpy|typer/|click/|fivecore/cli/|asyncio/(runners|base_events|events)\.py|"
                      r"uvloop|^<string>$|(^|/)network\.py$|threading\.py")


def _area(file: str) -> str | None:
    for name, pat in AREAS:
        if re.search(pat, file):
            return name
    return None


def summarize(text: str, top: int = 15) -> dict[str, Any]:
    """Shares of the samples: per area (by innermost known frame), self and inclusive per function."""
    stacks = parse_collapsed(text)
    total = sum(n for _, n in stacks)
    areas: Counter[str] = Counter()
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, n in stacks:
        area = "other"
        for _func, file in reversed(frames):
            a = _area(file)
            if a is not None:
                area = a
                break
        areas[area] += n
        if frames:
            func, file = frames[-1]
            self_t[f"{func} ({_short(file)})"] += n
        seen = set()
        for func, file in frames:
            if _WRAPPER.search(file):
                continue
            key = f"{func} ({_short(file)})"
            if key not in seen:
                seen.add(key)
                incl[key] += n

    def pct(c: Counter[str], k: int) -> list[tuple[str, float]]:
        return [(name, round(100.0 * v / total, 1)) for name, v in c.most_common(k)] if total else []

    return {"samples": total, "areas": pct(areas, len(AREAS) + 1), "self": pct(self_t, top),
            "inclusive": pct(incl, top)}


def _short(file: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3"):
        i = file.find(marker)
        if i >= 0:
            return file[i + len(marker):]
    return file
