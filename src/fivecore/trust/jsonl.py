"""Append-only JSON-lines files that several processes may write at once.

Each record is serialised to one line and handed to the kernel in a single ``write(2)`` on a
descriptor opened with ``O_APPEND``: POSIX makes the seek-to-end and the write one atomic
step for regular files, so lines from concurrent writers never interleave or overwrite one
another (Linux holds the inode lock for the whole write on local file systems). Nothing is
buffered in user space, so a crash loses at most the line being written, and a reader
skips a torn last line instead of failing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fivecore.errors import FivecoreError

#: Largest line accepted: big enough for any record we write, small enough that a runaway
#: caller cannot fill the disk with one call.
MAX_LINE_BYTES = 64 * 1024


class JsonlError(FivecoreError):
    """A JSON-lines file cannot be opened or written."""


class JsonlAppender:
    """One writer of an append-only JSON-lines file; safe to use from several processes."""

    def __init__(self, path: str | Path, *, fsync: bool = True, mode: int = 0o640) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._mode = mode
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(
                    self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, self._mode
                )
            except OSError as exc:
                raise JsonlError(f"{self.path}: cannot open for append: {exc.strerror or exc}") from None
        return self._fd

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line with one ``write(2)``; fsync if configured."""
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
        data = (line + "\n").encode("utf-8")
        if len(data) > MAX_LINE_BYTES:
            raise JsonlError(f"{self.path}: record of {len(data)} bytes exceeds {MAX_LINE_BYTES}")
        fd = self._open()
        try:
            written = os.write(fd, data)
            if written != len(data):
                # Only on a full disk or a signal mid-write; the line is torn either way, and
                # the reader skips torn lines, so report instead of appending a fragment.
                raise JsonlError(f"{self.path}: short write ({written} of {len(data)} bytes)")
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            raise JsonlError(f"{self.path}: write failed: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class JsonlContents:
    """Records of a JSON-lines file, with the line numbers that could not be parsed."""

    records: list[dict[str, Any]] = field(default_factory=list)
    malformed_lines: list[int] = field(default_factory=list)


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Yield ``(line_number, record)`` per line; ``record`` is None for a malformed line."""
    p = Path(path)
    try:
        fh = p.open("rb")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JsonlError(f"{p}: cannot read: {exc.strerror or exc}") from None
    with fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                yield n, None
                continue
            yield n, obj if isinstance(obj, dict) else None


def read_jsonl(path: str | Path) -> JsonlContents:
    """Read a whole JSON-lines file; a missing file reads as empty."""
    out = JsonlContents()
    for n, rec in iter_jsonl(path):
        if rec is None:
            out.malformed_lines.append(n)
        else:
            out.records.append(rec)
    return out
