"""An NF's own SQLite file of contexts that must survive a restart of the NF.

Shared by the AMF's UE contexts (:mod:`fivecore.nf.amf.persist`) and the SMF's SM contexts
(:mod:`fivecore.nf.smf.persist`); TS 23.527 §4 (restoration procedures) asks both to come back
with what they served. What is common:

- **One process per file.** An flock on ``<file>.lock``: a second NF with the same identity
  (GUAMI, N4 node) runs without persistence rather than write over the first.
- **The file says whose it is.** A ``meta`` table holds the format name, its version and the
  owner key (the AMF's GUAMI, the SMF's N4 node); anything else is a :class:`PersistFileError`.
  ``ours`` tells the caller whether it may move the file aside (a damaged file, another version
  or owner) or must leave it alone (a SQLite database of something else, named by mistake).
- **Cheap writes.** WAL mode, ``synchronous=NORMAL`` (``FULL`` with ``fsync``: power-loss
  safety), no automatic checkpoint inside a commit: a thread checkpoints
  (:class:`~fivecore.store.repository.WalCheckpointer`) so a write on the event loop never
  waits for an fsync of the whole WAL.
- Created mode 0600 (the AMF's file holds KAMFs).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from fivecore.errors import FivecoreError
from fivecore.store.repository import WalCheckpointer


class PersistError(FivecoreError):
    """An NF's context file cannot be used or written."""


class PersistFileError(PersistError):
    """The file is not a usable context file of this NF.

    ``ours``: it is one of ours (damaged, another format version or another owner) and may be
    moved aside; False for a database of something else, which must not be touched.
    """

    def __init__(self, message: str, *, ours: bool) -> None:
        super().__init__(message)
        self.ours = ours


class ContextFile:
    """The SQLite file of one NF's stored contexts (see the module docstring).

    Subclasses name the format (:attr:`FORMAT`, :attr:`VERSION`, :attr:`SCHEMA`, the table that
    must exist, :attr:`TABLE`) and how errors speak of the owner (:attr:`NF`, :attr:`OWNER`,
    :attr:`KIND`). Opening checks the file is one of this format for ``owner``, creating it when
    it does not exist; raises :class:`PersistFileError` (content) or :class:`PersistError` (the
    file cannot be opened, locked or written). ``meta``: values written into ``meta`` at open
    (e.g. the NF instance ID a restarted NF takes again).
    """

    FORMAT: ClassVar[str]
    VERSION: ClassVar[int]
    SCHEMA: ClassVar[tuple[str, ...]]
    TABLE: ClassVar[str]
    #: the meta key and the word for the owner: ("guami", "GUAMI")
    OWNER: ClassVar[tuple[str, str]]
    NF: ClassVar[str] = "NF"
    KIND: ClassVar[str] = "context file"

    def __init__(self, path: str | Path, owner: str, fsync: bool = False,
                 meta: Mapping[str, str] | None = None) -> None:
        self.path = Path(path)
        self.owner = owner
        self._checkpointer: WalCheckpointer | None = None
        new = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one NF per file: a second one with the same identity must not write over it
            self._lock = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise PersistError(f"{self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if new:
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            os.close(self._lock)
            raise PersistError(f"{self.path}: in use by another {self.NF} process ({exc.strerror or exc})") from None
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            os.close(self._lock)
            raise PersistError(f"{self.path}: {exc}") from None
        try:
            self._check_or_create()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            # the NF only writes (and reads once at start): a small page cache is enough, and
            # the RAM it takes is fixed, not per context
            self.db.execute("PRAGMA cache_size=-512")
            # SQLite's own checkpoint runs inside the commit that crosses 1,000 WAL pages and
            # ends with an fsync: a flush on the event loop then stalled every UE for up to
            # ~45 ms. A thread checkpoints instead (as the subscriber store does).
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = WalCheckpointer(str(self.path))
            for k, v in (meta or {}).items():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, v))
        except sqlite3.OperationalError as exc:  # locked, read-only, I/O: not the file's content
            self.close()
            raise PersistError(f"{self.path}: {exc}") from None
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # not a database, malformed (a
            # damaged page can hold a table name or text that is not UTF-8)
            self.close()
            raise PersistFileError(f"{self.path}: {exc}", ours=True) from None
        except BaseException:
            self.close()
            raise

    def _check_or_create(self) -> None:
        db = self.db
        key, word = self.OWNER
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            # tables and their description in one transaction: a crash leaves none of it
            db.execute("BEGIN")
            for stmt in self.SCHEMA:
                db.execute(stmt)
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [("format", self.FORMAT), ("version", str(self.VERSION)), (key, self.owner)])
            db.execute("COMMIT")
            return
        if "meta" not in tables:
            raise PersistFileError(f"{self.path}: not a {self.KIND} (tables {sorted(tables)})", ours=False)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != self.FORMAT:
            raise PersistFileError(f"{self.path}: not a {self.KIND} (format {meta.get('format')!r})", ours=False)
        if meta.get("version") != str(self.VERSION):
            raise PersistFileError(f"{self.path}: format version {meta.get('version')} "
                                   f"(this {self.NF} reads {self.VERSION})", ours=True)
        if meta.get(key) != self.owner:
            raise PersistFileError(f"{self.path}: written by the {self.NF} with {word} {meta.get(key)}, "
                                   f"this one is {self.owner}", ours=True)
        if self.TABLE not in tables:
            raise PersistFileError(f"{self.path}: the {self.TABLE} table is missing", ours=True)
        ok = db.execute("PRAGMA quick_check").fetchone()
        if ok is None or ok[0] != "ok":
            raise PersistFileError(f"{self.path}: damaged ({ok[0] if ok else 'no answer'})", ours=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; :class:`PersistError` when SQLite refuses it (rolled back)."""
        db = self.db
        try:
            db.execute("BEGIN")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise PersistError(f"{self.path}: write failed: {exc}") from None

    def meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    def close(self) -> None:
        ckpt, self._checkpointer = self._checkpointer, None
        if ckpt is not None:
            ckpt.stop()
        db = getattr(self, "db", None)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        if self._lock >= 0:
            os.close(self._lock)  # releases the flock
            self._lock = -1


def move_aside(path: Path) -> Path:
    """Rename a context file that cannot be used (and its WAL and shared-memory files) to
    ``<name>.unusable-<unix time>``, kept for a post-mortem; :class:`PersistError` on failure."""
    aside = path.with_name(f"{path.name}.unusable-{int(time.time())}")
    try:
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(path) + suffix)
            if p.exists():
                p.rename(Path(str(aside) + suffix))
    except OSError as exc:
        raise PersistError(f"{path}: cannot move it aside: {exc.strerror or exc}") from None
    return aside


def read_meta(path: Path) -> dict[str, str] | None:
    """The ``meta`` table of a context file, read-only; None when there is no readable one."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta").fetchall()}
        finally:
            db.close()
    except (sqlite3.Error, UnicodeDecodeError):
        return None


class WriteBehind:
    """What an NF's write-behind persistence does the same way: open its file (moving a damaged
    one aside) and restore what it holds before the NF serves anything (:meth:`open`), flush
    what changed every :attr:`interval` (:meth:`run`, the subclass's :meth:`flush`), write the
    rest and close on a clean stop (:meth:`close`), report its state (:meth:`info`).

    A subclass sets ``ctx`` (the NF's context: ``count()``, ``stats``, ``dirty``), ``path`` and
    ``file``, names its log events (:attr:`EVENT`: ``event=<EVENT>_persist_...``, :attr:`LOG`,
    :attr:`RESTORED`: what a restart brings back) and provides :meth:`_make_file` and
    :meth:`_restore` (rows of ``file.load()`` into the context; how many).
    """

    EVENT: ClassVar[str]
    LOG: ClassVar[logging.Logger]
    RESTORED: ClassVar[str] = "contexts"
    #: seconds between two flushes of :meth:`run` (``<nf>.persist_flush_ms``)
    interval: float = 0.1
    ctx: Any
    path: Path
    file: Any

    def _make_file(self) -> Any:
        raise NotImplementedError

    def _restore(self, rows: Iterable[Any]) -> int:
        raise NotImplementedError

    def flush(self) -> int:
        raise NotImplementedError

    async def run(self) -> None:
        """The write-behind task: :meth:`flush` every :attr:`interval` seconds, for ever (the
        NF cancels it at stop, then calls :meth:`close`)."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # the writer must outlive any one bad context
                self.LOG.exception("event=%s_persist_flush_error", self.EVENT)

    def close(self) -> None:
        """Clean stop: write what is pending, then close (SQLite checkpoints the WAL)."""
        self.flush()
        f, self.file = self.file, None
        if f is not None:
            f.close()
        self.ctx.dirty = None

    def info(self) -> dict[str, Any]:
        """For the NF's stats: the file, whether it is in use, contexts waiting for the next flush."""
        return {"file": str(self.path), "active": self.file is not None, "pending": len(self.ctx.dirty or ())}

    def open(self) -> int:
        """Open (or create) the file and restore what it holds; how many were restored. A
        damaged or foreign file is logged and moved aside (or, not ours, left alone with
        persistence off): the NF then starts empty. Never raises for the file's content."""
        try:
            self.file = self._open_file()
        except PersistError as exc:
            self.ctx.count("persist_file_unusable")
            self.LOG.warning("event=%s_persist_disabled reason=%r", self.EVENT, str(exc))
            return 0
        try:
            n = self._restore(self.file.load())
        except PersistFileError as exc:
            # the rows read so far stay: each was complete and checked on its own
            self.LOG.warning("event=%s_persist_load_failed err=%r", self.EVENT, str(exc))
            self.ctx.count("persist_file_unusable")
            n = self.ctx.stats.get("persist_restored", 0)
        self.ctx.dirty = set()
        return n

    def _open_file(self) -> Any:
        try:
            return self._make_file()
        except PersistFileError as exc:
            if not exc.ours:
                raise
            self.ctx.count("persist_file_unusable")
            aside = move_aside(self.path)
            self.LOG.warning("event=%s_persist_file_unusable err=%r moved_to=%s %s_restored=0",
                             self.EVENT, str(exc), aside, self.RESTORED)
            return self._make_file()
