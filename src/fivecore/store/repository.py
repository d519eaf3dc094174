"""The subscriber repository: SQLAlchemy 2 Core over SQLite (WAL) or PostgreSQL.

SQN handling follows TS 33.102 Annex C: SQN = SEQ || IND (IND 5 bits). Every new authentication
vector advances SEQ with a single ``UPDATE ... RETURNING`` statement, so no two vectors ever share
a SQN even when several UDM/UDR processes hit one database (SQLite serialises writers on its
lock, PostgreSQL on the row lock). Committed SQNs survive a crash: SQLite runs in WAL mode, so
a committed transaction is in the WAL before the statement returns.

Keys never reach logs: the engine hides bound parameters, and records hide K/OP/OPc in repr.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import logging
import os
import pathlib
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from fivecore.errors import FivecoreError

from .models import SEQ_STEP, SQN_MAX, AuthData, Subscriber
from .schema import context_data, migrate, profiles, schema_version, subscribers

log = logging.getLogger("fivecore.store")


class StoreError(FivecoreError):
    """The subscriber store failed or refused an operation."""


class StoreDatabaseError(StoreError):
    """The database under the store failed, or what it returned cannot be used: a damaged or
    foreign SQLite file, a file that is not SQLite at all, the database server refusing. The
    message is one line naming the store and the operation."""


class NotFound(StoreError):
    """No such subscriber (or profile, or context record)."""


class AlreadyExists(StoreError):
    """A subscriber (or profile) with that key exists already."""


#: What a damaged, foreign or non-SQLite file (or a failing database server) raises from under
#: the store: the driver's and SQLAlchemy's errors; ValueError for text or JSON that does not
#: decode (Python's sqlite3 raises UnicodeDecodeError when SQLite's own error message quotes a
#: schema name that is not UTF-8; SQLAlchemy ValueError for a damaged timestamp); TypeError for
#: a NULL where the schema allows none.
_DB_FAILURES = (sqlite3.Error, SQLAlchemyError, ValueError, TypeError)

_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(fn: _F) -> _F:
    """Turn a failure of the database underneath ``fn`` into :class:`StoreDatabaseError`; the
    store's own errors (NotFound, bad input, ...) pass as they are. Generators are guarded
    while they are iterated, where their queries run."""
    op = fn.__name__

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(self: SubscriberStore, *args: Any, **kw: Any) -> Any:
            try:
                yield from fn(self, *args, **kw)
            except StoreError:
                raise
            except _DB_FAILURES as exc:
                raise self._failure(op, exc) from exc

        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(self: SubscriberStore, *args: Any, **kw: Any) -> Any:
        try:
            return fn(self, *args, **kw)
        except StoreError:
            raise
        except _DB_FAILURES as exc:
            raise self._failure(op, exc) from exc

    return wrapper  # type: ignore[return-value]


DEFAULT_PROFILE: dict[str, Any] = {
    "amf": "8000",
    "auth_method": "5G_AKA",
    "am": {
        "gpsis": [],
        "subscribedUeAmbr": {"uplink": "1 Gbps", "downlink": "2 Gbps"},
        "nssai": {"defaultSingleNssais": [{"sst": 1}], "singleNssais": [{"sst": 1}]},
        "subscribedDnnList": ["internet"],
    },
    "sm": [
        {
            "singleNssai": {"sst": 1},
            "dnnConfigurations": {
                "internet": {
                    "pduSessionTypes": {"defaultSessionType": "IPV4", "allowedSessionTypes": ["IPV4", "IPV6", "IPV4V6"]},
                    "sscModes": {"defaultSscMode": "SSC_MODE_1", "allowedSscModes": ["SSC_MODE_1"]},
                    "5gQosProfile": {"5qi": 9, "arp": {"priorityLevel": 8, "preemptCap": "NOT_PREEMPT", "preemptVuln": "NOT_PREEMPTABLE"}},
                    "sessionAmbr": {"uplink": "1 Gbps", "downlink": "2 Gbps"},
                }
            },
        }
    ],
    "smf_selection": {"subscribedSnssaiInfos": {"1": {"dnnInfos": [{"dnn": "internet", "defaultDnnIndicator": True}]}}},
    "policy": {"am": {}, "ue": {}, "sm": {}},
}


#: an IMSI-based SUPI already in its normal form (ASCII digits: the general check below
#: accepts more, so what this matches it accepts unchanged)
_PLAIN_SUPI = re.compile(r"imsi-[0-9]{5,15}").fullmatch


def normalise_supi(supi: str) -> str:
    """Accept ``imsi-001010000000001`` or bare digits; return the SUPI form (TS 23.003 §2.2A)."""
    if _PLAIN_SUPI(supi) is not None:  # every call on the attach path: one C call
        return supi
    s = supi.strip()
    if s.isdigit():
        s = "imsi-" + s
    if not (s.startswith("imsi-") and s[5:].isdigit() and 5 <= len(s) - 5 <= 15):
        raise StoreError(f"not an IMSI-based SUPI: {supi!r}")
    return s


def _hex(name: str, value: Any, n: int, optional: bool = False) -> str | None:
    if value is None or value == "":
        if optional:
            return None
        raise StoreError(f"{name} is required")
    if isinstance(value, bytes | bytearray):
        value = bytes(value).hex()
    v = str(value).strip().lower()
    if len(v) != 2 * n or any(c not in "0123456789abcdef" for c in v):
        raise StoreError(f"{name} must be {n} bytes of hex")
    return v


class SubscriberStore:
    """Subscribers, profiles (templates) and UDR context data behind one interface.

    ``SubscriberStore("sqlite:///subs.db")`` or ``SubscriberStore("postgresql+psycopg://...")``.
    Methods are synchronous (a few hundred µs each); async callers may run them inline — the
    SQLite busy timeout bounds how long one can block.
    """

    def __init__(self, uri: str, *, create: bool = True) -> None:
        self.uri = uri
        self.is_sqlite = uri.startswith("sqlite")
        kw: dict[str, Any] = {"hide_parameters": True, "future": True}
        if self.is_sqlite:
            kw["connect_args"] = {"timeout": 30, "check_same_thread": False}
        try:
            self.engine: Engine = create_engine(uri, **kw)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open store {self._safe_uri()}: {exc}") from None
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._profile_cache: dict[str, dict[str, Any]] = {}
        # Hot-path statements built once (vector generation reads and CAS-updates the SQN).
        self._q_get = select(subscribers).where(subscribers.c.supi == bindparam("supi"))
        self._q_cas = (update(subscribers)
                       .where(subscribers.c.supi == bindparam("b_supi"), subscribers.c.sqn == bindparam("b_old"))
                       .values(sqn=bindparam("b_new")))
        self._q_next = (update(subscribers).where(subscribers.c.supi == bindparam("b_supi"))
                        .values(sqn=case((subscribers.c.sqn + SEQ_STEP > SQN_MAX, subscribers.c.sqn + SEQ_STEP - (SQN_MAX + 1)),
                                         else_=subscribers.c.sqn + SEQ_STEP))
                        .returning(*subscribers.c))
        self._lock = threading.Lock()
        # The attach hot path (subscriber row, context documents) goes through one plain sqlite3
        # connection: SQLAlchemy's per-call overhead was most of the store's CPU. Every other
        # path keeps the engine; both see each other's commits (WAL, autocommit reads).
        self._fast: sqlite3.Connection | None = None
        self._fast_lock = threading.Lock()
        self._checkpointer: WalCheckpointer | None = None
        try:
            self._open(create)
        except BaseException as exc:
            self.close()  # the engine's pool and the fast connection: no file left open
            if isinstance(exc, _DB_FAILURES) and not isinstance(exc, StoreError):
                raise self._failure("open", exc) from exc
            raise

    def _open(self, create: bool) -> None:
        """Migrate (``create``), then the fast connection and its read cache."""
        db = self.engine.url.database if self.is_sqlite else None
        if create:
            if db and db != ":memory:" and not db.startswith("file:"):
                self._refuse_foreign(db)
            self.migrate()
        # Read cache of the fast path (see _sync): subscribers and profiles stamped with the
        # provisioning generation they were read under, SQNs with the data_version.
        self._subs: dict[str, _Entry] = {}
        self._profiles: dict[str, tuple[int, str | None, dict[str, Any]]] = {}
        self._dv = -1
        self._gen = -1
        self._has_gen = False
        self._gen_known = False
        self._effective_cache: dict[tuple[str | None, str], tuple[dict[str, Any], str]] = {}
        self._section_cache: dict[tuple[str | None, str], tuple[dict[str, Any], dict[str, str]]] = {}
        if db and db != ":memory:" and not db.startswith("file:"):
            self._fast = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
            _sqlite_pragmas(self._fast, None)
            self._db_path = db
            self._has_gen = self._fast.execute(_SQL_HAS_GEN).fetchone() is not None
        self._sql_get = _SQL_GET_GEN if self._has_gen else _SQL_GET_NOGEN

    def _sync(self, fast: sqlite3.Connection) -> None:
        """Bring the read cache's validity up to date; call with ``_fast_lock`` held, before reading.

        ``PRAGMA data_version`` changes exactly when ANOTHER connection (another process, or
        this store's SQLAlchemy engine) has committed since the last look; this connection's
        own writes update the cache as they go. So while it stands still, every cached value
        is what a read would return. When it moved, SQNs read earlier are stale; subscribers
        and profiles are stale only if the provisioning generation (``store_gen``, bumped by
        triggers on every change of provisioned data) moved too. Without that table (a store
        opened with ``create=False`` on an older schema) every foreign commit invalidates all.
        The counters are read before the rows they validate (a row read anew brings the
        generation along, from its own snapshot), so a cached row is never older than its stamp.
        """
        dv = fast.execute("PRAGMA data_version").fetchone()[0]
        if dv != self._dv:
            self._dv = dv
            self._gen_known = False  # read when a cached value needs it (:meth:`_cur_gen`)

    def _cur_gen(self, fast: sqlite3.Connection) -> int:
        """The provisioning generation as of the last :meth:`_sync` (or later); lock held."""
        if not self._gen_known:
            if self._has_gen:
                row = fast.execute(_SQL_GEN).fetchone()
                self._gen = row[0] if row is not None else -2 - self._dv
            else:
                self._gen = self._dv
            self._gen_known = True
        return self._gen

    def _wrote(self) -> None:
        """After the first write on the fast connection: its WAL is checkpointed by a thread.

        SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages, so
        one UDR request in a few hundred paid for copying the pages and the fsync, on the event
        loop. A PASSIVE checkpoint on its own connection never blocks readers or writers, and
        sqlite3 releases the GIL while it works.
        """
        if self._checkpointer is None and self._fast is not None:
            self._fast.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = WalCheckpointer(self._db_path)

    def _safe_uri(self) -> str:
        head, sep, tail = self.uri.partition("@")
        return ("***@" + tail) if sep else head

    def _failure(self, op: str, exc: BaseException) -> StoreDatabaseError:
        """One line that names the store, the operation and what the database said."""
        orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
        if isinstance(orig, UnicodeDecodeError):
            why = "text in the database is not UTF-8"
        else:
            why = " ".join(str(orig).split())[:200] or type(orig).__name__
        # A plain DatabaseError ("file is not a database", "database disk image is malformed"),
        # a missing table or column, stored text or JSON that does not decode: the file, not the
        # moment (a locked database) nor the caller's data (a value JSON cannot hold)
        damaged = (type(orig) is sqlite3.DatabaseError or isinstance(orig, UnicodeDecodeError | json.JSONDecodeError)
                   or why.startswith(("no such table", "no such column", "Could not decode")))
        hint = " (the file is damaged or not a fivecore subscriber store)" if self.is_sqlite and damaged else ""
        return StoreDatabaseError(f"subscriber store {self._safe_uri()}: {op} failed: {why}{hint}")

    @_guarded
    def migrate(self) -> list[int]:
        """Bring the schema to the latest version (idempotent, safe across processes)."""
        if self.is_sqlite:
            return self._migrate_sqlite()
        with self.engine.begin() as conn:
            return migrate(conn)

    def _migrate_sqlite(self) -> list[int]:
        """The migrations in ONE write transaction taken up front (``BEGIN IMMEDIATE``).

        Python's sqlite3 runs DDL outside transactions and begins one only before DML, so two
        processes opening a new file at once could both see an old version and both apply a
        migration. Holding the write lock from the version check to the commit serialises
        them: the second sees the first's versions and applies nothing; a failed migration
        leaves the file as it was.
        """
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            saved = raw.isolation_level  # type: ignore[union-attr]
            raw.isolation_level = None  # type: ignore[union-attr]  # we issue BEGIN ourselves
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    done = migrate(conn)
                except BaseException:
                    raw.rollback()  # type: ignore[union-attr]
                    raise
                raw.commit()  # type: ignore[union-attr]
                return done
            finally:
                raw.isolation_level = saved  # type: ignore[union-attr]
                conn.rollback()  # SQLAlchemy's view of the connection: nothing pending

    def _refuse_foreign(self, db: str) -> None:
        """Another program's SQLite database (tables, but not ours) is not a store to migrate:
        adding our tables to it would quietly turn, say, an NF's context file into a store.
        Looked at read-only, before the engine's first connection switches the file to WAL.
        Migrations run in one transaction, so a store being created by another process right
        now shows either no tables or all of them."""
        if not os.path.isfile(db) or os.path.getsize(db) == 0:
            return
        ro = sqlite3.connect(f"{pathlib.Path(db).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            tables = [r[0] for r in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                      if not r[0].startswith("sqlite_")]
        finally:
            ro.close()
        if tables and schema_version.name not in tables:
            shown = ", ".join(repr(t[:40]) for t in sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
            raise StoreDatabaseError(f"subscriber store {self._safe_uri()}: not a fivecore subscriber store "
                                     f"(an SQLite database with other tables: {shown}); left untouched")

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._fast is not None:
            with self._fast_lock:
                self._fast.close()
                self._fast = None
        self.engine.dispose()

    # -- subscribers --------------------------------------------------------------------------
    def _row(self, sub: Subscriber) -> dict[str, Any]:
        return {
            "supi": normalise_supi(sub.supi),
            "k": _hex("K", sub.k, 16),
            "opc": _hex("OPc", sub.opc, 16, True),
            "op": _hex("OP", sub.op, 16, True),
            "amf": _hex("AMF", sub.amf, 2),
            "sqn": _sqn(sub.sqn),
            "auth_method": sub.auth_method,
            "profile": sub.profile,
            "data": sub.data or None,
            "version": 0,
        }

    def add(self, sub: Subscriber) -> None:
        """Create one subscriber; AlreadyExists if the SUPI is taken."""
        self.add_many([sub])

    @_guarded
    def add_many(self, subs: Iterable[Subscriber], batch: int = 5000, replace: bool = False) -> int:
        """Create subscribers in batches of ``batch`` per transaction; returns how many.

        A batch is all-or-nothing: a duplicate SUPI aborts its batch with AlreadyExists
        (earlier batches stay). ``replace`` overwrites existing subscribers instead.
        """
        n = 0
        rows: list[dict[str, Any]] = []
        for sub in subs:
            rows.append(self._row(sub))
            if sub.opc is None and sub.op is None:
                prof = self.get_profile(sub.profile) if sub.profile else {}
                if not prof.get("op"):
                    raise StoreError(f"{sub.supi}: OPc or OP is required (neither given, none in the profile)")
            if len(rows) >= batch:
                n += self._insert(rows, replace)
                rows = []
        if rows:
            n += self._insert(rows, replace)
        return n

    def _insert(self, rows: list[dict[str, Any]], replace: bool) -> int:
        try:
            with self.engine.begin() as conn:
                if replace:
                    conn.execute(delete(subscribers).where(subscribers.c.supi.in_([r["supi"] for r in rows])))
                conn.execute(insert(subscribers), rows)
        except IntegrityError:
            raise AlreadyExists(f"a subscriber in this batch exists already (first: {rows[0]['supi']})") from None
        return len(rows)

    @_guarded
    def get(self, supi: str) -> Subscriber:
        """The subscriber as stored now (SQN included); NotFound if absent.

        On SQLite the answer comes from the read cache when no other connection has changed
        it since (:meth:`_sync`); otherwise the row (or, when only SQNs can have moved, just
        the SQN) is read again. A write by another process is therefore seen at once.
        """
        supi = normalise_supi(supi)
        fast = self._fast
        if fast is not None:
            with self._fast_lock:
                e = self._subs.get(supi)
                if e is None:
                    # Not cached: the row read now is the newest state, so no data_version
                    # look first (its SQN is stamped with the older version: read again later).
                    e = self._load(fast, supi)
                else:
                    self._sync(fast)
                    e = self._entry(fast, supi)
                if e.sqn_dv != self._dv:
                    row = fast.execute(_SQL_SQN, (supi,)).fetchone()
                    if row is None:
                        del self._subs[supi]
                        raise NotFound(f"no subscriber {supi}")
                    e.sqn = int(row[0])
                    e.sqn_dv = self._dv
                base, text, sqn = e.base, e.data_text, e.sqn
            data = json.loads(text) if text else None
            # A fresh record every time: callers may change ``data`` without touching the cache.
            return Subscriber(supi=base.supi, k=base.k, opc=base.opc, op=base.op, amf=base.amf,
                              sqn=sqn, auth_method=base.auth_method, profile=base.profile,
                              data=data if isinstance(data, dict) else {}, version=base.version)
        with self.engine.connect() as conn:
            row = conn.execute(self._q_get, {"supi": normalise_supi(supi)}).first()
        if row is None:
            raise NotFound(f"no subscriber {supi}")
        return _sub(row)

    def _entry(self, fast: sqlite3.Connection, supi: str) -> _Entry:
        """The cached subscriber, read again unless its generation is current (after ``_sync``)."""
        e = self._subs.get(supi)
        if e is not None and e.gen == self._cur_gen(fast):
            return e
        return self._load(fast, supi)

    def _load(self, fast: sqlite3.Connection, supi: str) -> _Entry:
        """Read the subscriber's row into the cache (lock held)."""
        # The generation comes with the row (same snapshot, no statement of its own); it is at
        # least as new as the last _sync, so it may serve as the current one from now on.
        row = fast.execute(self._sql_get, (supi,)).fetchone()
        if row is None:
            self._subs.pop(supi, None)
            raise NotFound(f"no subscriber {supi}")
        if self._has_gen and row[10] is not None:
            gen = self._gen = row[10]
            self._gen_known = True
        else:
            gen = self._cur_gen(fast)
        e = _Entry(Subscriber(supi=row[0], k=bytes.fromhex(row[1]),
                              opc=bytes.fromhex(row[2]) if row[2] else None,
                              op=bytes.fromhex(row[3]) if row[3] else None,
                              amf=bytes.fromhex(row[4]), auth_method=row[6], profile=row[7],
                              version=row[9]),
                   row[8], gen, int(row[5]), self._dv)
        if len(self._subs) >= _ROW_CACHE_MAX:
            self._subs.clear()
        self._subs[supi] = e
        return e

    @_guarded
    def sections(self, supi: str, names: tuple[str, ...]) -> dict[str, Any]:
        """Sections ``names`` of :meth:`effective` for ``supi`` (private copies; absent ones
        left out); NotFound if there is no such subscriber. One cache check on SQLite."""
        fast = self._fast
        if fast is None:
            data = self.effective(self.get(supi))
            return {n: data[n] for n in names if n in data}
        supi = normalise_supi(supi)
        with self._fast_lock:
            self._sync(fast)
            e = self._entry(fast, supi)
            pname = e.base.profile
            base = self._profile_locked(fast, pname) if pname else DEFAULT_PROFILE
            ckey = (pname, e.data_text or "")
            hit = self._section_cache.get(ckey)
            if hit is None or hit[0] is not base:
                own = json.loads(e.data_text) if e.data_text else None
                own = own if isinstance(own, dict) else {}
                merged = {k: v for k, v in base.items() if k not in ("op", "opc", "k")}
                merged.update(own)
                try:
                    hit = (base, {k: json.dumps(v) for k, v in merged.items()})
                except (TypeError, ValueError):
                    return {n: copy.deepcopy(merged[n]) for n in names if n in merged}
                if len(self._section_cache) >= _EFFECTIVE_CACHE_MAX:
                    self._section_cache.clear()
                self._section_cache[ckey] = hit
        texts = hit[1]
        return {n: json.loads(texts[n]) for n in names if n in texts}

    @_guarded
    def exists(self, supi: str) -> bool:
        fast = self._fast
        if fast is not None:
            with self._fast_lock:
                self._sync(fast)
                e = self._subs.get(supi)
                if e is not None and e.gen == self._cur_gen(fast):
                    return True
                return fast.execute(_SQL_EXISTS, (supi,)).fetchone() is not None
        with self.engine.connect() as conn:
            return conn.execute(select(subscribers.c.supi).where(subscribers.c.supi == supi)).first() is not None

    @_guarded
    def list(self, offset: int = 0, limit: int | None = 100, prefix: str | None = None) -> list[Subscriber]:
        q = select(subscribers).order_by(subscribers.c.supi).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        if prefix:
            q = q.where(subscribers.c.supi.startswith("imsi-" + prefix if prefix.isdigit() else prefix, autoescape=True))
        with self.engine.connect() as conn:
            return [_sub(r) for r in conn.execute(q)]

    @_guarded
    def iter_all(self, chunk: int = 5000) -> Iterator[Subscriber]:
        last = ""
        while True:
            q = select(subscribers).where(subscribers.c.supi > last).order_by(subscribers.c.supi).limit(chunk)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            for r in rows:
                yield _sub(r)
            if not rows[-1].supi > last:
                # only a damaged index answers "> last" with a row that is not: without this
                # the loop would fetch the same chunk for ever
                raise StoreDatabaseError(f"subscriber store {self._safe_uri()}: iter_all failed: rows out of "
                                         "order (the file is damaged or not a fivecore subscriber store)")
            last = rows[-1].supi

    @_guarded
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(subscribers)).scalar() or 0)

    @_guarded
    def update(self, supi: str, **changes: Any) -> Subscriber:
        """Change fields (k, opc, op, amf, sqn, auth_method, profile, data); NotFound if absent.

        ``data`` replaces whole sections: ``data={"am": {...}}`` keeps the other sections.
        """
        supi = normalise_supi(supi)
        values: dict[str, Any] = {}
        for key, val in changes.items():
            if key == "k":
                values["k"] = _hex("K", val, 16)
            elif key in ("opc", "op"):
                values[key] = _hex(key.upper(), val, 16, True)
            elif key == "amf":
                values["amf"] = _hex("AMF", val, 2)
            elif key == "sqn":
                values["sqn"] = _sqn(val)
            elif key in ("auth_method", "profile"):
                values[key] = val
            elif key == "data":
                continue
            else:
                raise StoreError(f"unknown subscriber field {key!r}")
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.supi == supi)).first()
            if row is None:
                raise NotFound(f"no subscriber {supi}")
            if "data" in changes:
                merged = dict(row.data or {})
                for sec, val in (changes["data"] or {}).items():
                    if val is None:
                        merged.pop(sec, None)
                    else:
                        merged[sec] = val
                values["data"] = merged or None
            values["version"] = row.version + 1
            values["updated_at"] = func.now()
            conn.execute(update(subscribers).where(subscribers.c.supi == supi).values(**values))
        return self.get(supi)

    @_guarded
    def delete(self, supi: str) -> None:
        supi = normalise_supi(supi)
        with self.engine.begin() as conn:
            res = conn.execute(delete(subscribers).where(subscribers.c.supi == supi))
            if res.rowcount == 0:
                raise NotFound(f"no subscriber {supi}")
            conn.execute(delete(context_data).where(context_data.c.supi == supi))

    @_guarded
    def effective(self, sub: Subscriber) -> dict[str, Any]:
        """Profile sections overridden by the subscriber's own (what the UDR serves)."""
        base = self.get_profile(sub.profile) if sub.profile else DEFAULT_PROFILE
        own = sub.data or {}
        # The merged document is kept as JSON text keyed by the subscriber's own sections and
        # checked against the very profile object in use (a replaced profile is a new object),
        # so each call parses a private copy instead of deep-copying the profile.
        out = {k: v for k, v in base.items() if k not in ("op", "opc", "k")}
        out.update(own)
        try:
            ckey = (sub.profile, json.dumps(own, sort_keys=True) if own else "")
            hit = self._effective_cache.get(ckey)
            if hit is not None and hit[0] is base:
                return json.loads(hit[1])
            text = json.dumps(out)
        except (TypeError, ValueError):
            return copy.deepcopy(out)
        if len(self._effective_cache) >= _EFFECTIVE_CACHE_MAX:
            self._effective_cache.clear()
        self._effective_cache[ckey] = (base, text)
        return json.loads(text)

    # -- authentication data and SQN ----------------------------------------------------------
    @_guarded
    def auth_data(self, supi: str) -> AuthData:
        """K, OPc/OP, AMF and the current SQN of ``supi`` (NotFound if absent)."""
        sub = self.get(supi)
        return self._auth(sub)

    def _auth(self, sub: Subscriber) -> AuthData:
        op = sub.op
        if sub.opc is None and op is None and sub.profile:
            prof_op = self.get_profile(sub.profile).get("op")
            op = bytes.fromhex(prof_op) if prof_op else None
        return AuthData(sub.supi, sub.k, sub.opc, op, sub.amf, sub.sqn, sub.auth_method)

    @_guarded
    def next_sqn(self, supi: str) -> AuthData:
        """Advance SEQ by one (TS 33.102 Annex C.3.2) atomically and return the new SQN with K/OPc.

        One ``UPDATE ... RETURNING`` statement: concurrent callers (threads or processes) never
        see the same SQN.
        """
        supi = normalise_supi(supi)
        with self.engine.begin() as conn:
            row = conn.execute(self._q_next, {"b_supi": supi}).first()
        if row is None:
            raise NotFound(f"no subscriber {supi}")
        return self._auth(_sub(row))

    @_guarded
    def cas_sqn(self, supi: str, old: int, new: int) -> bool:
        """Set SQN to ``new`` only if it is still ``old`` (JSON Patch ``test`` + ``replace``)."""
        supi = normalise_supi(supi)
        fast = self._fast
        if fast is not None:
            # One autocommit UPDATE: the compare and the swap happen under SQLite's write lock,
            # exactly as the engine path below (no read-then-write window).
            b_old, b_new = _sqn(old), _sqn(new)
            if self._checkpointer is None:
                self._wrote()
            with self._fast_lock:
                e = self._subs.get(supi)
                if fast.execute(_SQL_CAS, (b_new, supi, b_old)).rowcount == 1:
                    if e is not None:
                        e.sqn = b_new  # our own write: data_version does not move for it
                    return True
                if e is not None:
                    e.sqn_dv = -1  # the cached SQN lost the race: read it again next time
        else:
            with self.engine.begin() as conn:
                res = conn.execute(self._q_cas, {"b_supi": supi, "b_old": _sqn(old), "b_new": _sqn(new)})
                if res.rowcount == 1:
                    return True
        if not self.exists(supi):
            raise NotFound(f"no subscriber {supi}")
        return False

    @_guarded
    def set_sqn(self, supi: str, sqn: int) -> None:
        """Resynchronisation (TS 33.102 §6.3.5): SQN_HE := SQN_MS."""
        supi = normalise_supi(supi)
        with self.engine.begin() as conn:
            res = conn.execute(update(subscribers).where(subscribers.c.supi == supi).values(sqn=_sqn(sqn)))
            if res.rowcount == 0:
                raise NotFound(f"no subscriber {supi}")

    # -- profiles ------------------------------------------------------------------------------
    @_guarded
    def put_profile(self, name: str, data: dict[str, Any]) -> None:
        """Create or replace a profile (template): amf, auth_method, op, am, sm, smf_selection, policy."""
        if not name or len(name) > 64:
            raise StoreError("profile name must be 1..64 characters")
        if data.get("op") is not None:
            data = {**data, "op": _hex("OP", data["op"], 16)}
        with self.engine.begin() as conn:
            conn.execute(delete(profiles).where(profiles.c.name == name))
            conn.execute(insert(profiles).values(name=name, data=data))
        with self._lock:
            self._profile_cache.pop(name, None)

    @_guarded
    def get_profile(self, name: str) -> dict[str, Any]:
        """The profile (shared: callers must not change it); NotFound if absent."""
        fast = self._fast
        if fast is not None:
            with self._fast_lock:
                self._sync(fast)
                return self._profile_locked(fast, name)
        with self._lock:
            cached = self._profile_cache.get(name)
        if cached is not None:
            return cached
        if name == "default":
            data: Any = DEFAULT_PROFILE
            with self.engine.connect() as conn:
                row = conn.execute(select(profiles.c.data).where(profiles.c.name == name)).first()
            if row is not None:
                data = row.data
        else:
            with self.engine.connect() as conn:
                row = conn.execute(select(profiles.c.data).where(profiles.c.name == name)).first()
            if row is None:
                raise NotFound(f"no profile {name!r}")
            data = row.data
        with self._lock:
            self._profile_cache[name] = data
        return data

    def _profile_locked(self, fast: sqlite3.Connection, name: str) -> dict[str, Any]:
        hit = self._profiles.get(name)
        gen = self._cur_gen(fast)
        if hit is not None and hit[0] == gen:
            return hit[2]
        row = fast.execute(_SQL_PROFILE, (name,)).fetchone()
        text = None if row is None else row[0]
        if text is None:
            if name != "default":
                self._profiles.pop(name, None)
                raise NotFound(f"no profile {name!r}")
            data: Any = DEFAULT_PROFILE
        elif hit is not None and hit[1] == text:
            data = hit[2]  # unchanged text, same object: the section caches stay valid
        else:
            data = json.loads(text)
        self._profiles[name] = (gen, text, data)
        return data

    @_guarded
    def list_profiles(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            out = {r.name: r.data for r in conn.execute(select(profiles))}
        out.setdefault("default", DEFAULT_PROFILE)
        return out

    @_guarded
    def delete_profile(self, name: str) -> None:
        with self.engine.begin() as conn:
            used = conn.execute(select(subscribers.c.supi).where(subscribers.c.profile == name).limit(1)).first()
            if used is not None:
                raise StoreError(f"profile {name!r} is used by {used.supi}")
            if conn.execute(delete(profiles).where(profiles.c.name == name)).rowcount == 0:
                raise NotFound(f"no profile {name!r}")
        with self._lock:
            self._profile_cache.pop(name, None)

    # -- UDR context data (TS 29.505 §5.2.? context-data) -----------------------------------------
    @_guarded
    def put_context(self, supi: str, kind: str, key: str, data: dict[str, Any] | None, *,
                    subscriber: bool = False, text: str | None = None) -> bool:
        """Create or replace; returns True when it was created.

        With ``subscriber``, NotFound unless ``supi`` is a provisioned subscriber (checked in
        the same statement that tells create from replace). ``text`` is the document already
        as JSON (an object), e.g. from pydantic's ``model_dump_json``; ``data`` may then be None.
        """
        fast = self._fast
        if fast is not None:
            if text is None:
                text = json.dumps(data)
            if self._checkpointer is None:
                self._wrote()
            # One autocommit statement in the usual case: the INSERT (only for a provisioned
            # subscriber, when asked) creates the row; a row already there is a primary-key
            # conflict, and then an UPDATE replaces it (a subscriber's deletion removes its
            # context rows, so an existing row implies the subscriber).
            with self._fast_lock:
                try:
                    if subscriber:
                        if fast.execute(_SQL_CTX_INS_SUB, (supi, kind, key, text, supi)).rowcount == 0:
                            raise NotFound(f"no subscriber {supi}")
                    else:
                        fast.execute(_SQL_CTX_INS, (supi, kind, key, text))
                    return True
                except sqlite3.IntegrityError:
                    fast.execute(_SQL_CTX_UPD, (text, supi, kind, key))
                    return False
        if data is None and text is not None:
            data = json.loads(text)
        if subscriber and not self.exists(supi):
            raise NotFound(f"no subscriber {supi}")
        with self.engine.begin() as conn:
            where = (context_data.c.supi == supi, context_data.c.kind == kind, context_data.c.key == key)
            existed = conn.execute(delete(context_data).where(*where)).rowcount > 0
            conn.execute(insert(context_data).values(supi=supi, kind=kind, key=key, data=data))
        return not existed

    @_guarded
    def get_context(self, supi: str, kind: str, key: str = "", *,
                    subscriber: bool = False) -> dict[str, Any] | None:
        """The context document or None; with ``subscriber``, NotFound unless ``supi`` is a
        provisioned subscriber (checked in the same statement that reads the document)."""
        fast = self._fast
        if fast is not None:
            with self._fast_lock:
                if subscriber:
                    text, known = fast.execute(_SQL_CTX_GET_SUB, (supi, kind, key, supi)).fetchone()
                    if not known:
                        raise NotFound(f"no subscriber {supi}")
                else:
                    row = fast.execute(_SQL_CTX_GET, (supi, kind, key)).fetchone()
                    text = None if row is None else row[0]
            return None if text is None else json.loads(text)
        if subscriber and not self.exists(supi):
            raise NotFound(f"no subscriber {supi}")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(context_data.c.data).where(
                    context_data.c.supi == supi, context_data.c.kind == kind, context_data.c.key == key
                )
            ).first()
        return None if row is None else row.data

    @_guarded
    def list_context(self, supi: str, kind: str) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(context_data.c.key, context_data.c.data).where(
                    context_data.c.supi == supi, context_data.c.kind == kind
                )
            )
            return {r.key: r.data for r in rows}

    @_guarded
    def delete_context(self, supi: str, kind: str, key: str = "") -> bool:
        with self.engine.begin() as conn:
            return conn.execute(
                delete(context_data).where(
                    context_data.c.supi == supi, context_data.c.kind == kind, context_data.c.key == key
                )
            ).rowcount > 0

    @_guarded
    def check(self) -> list[str]:
        """Integrity check (used after a crash): problems found, empty when the store is sound."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            if self.is_sqlite:
                res = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
                if res != "ok":
                    problems.append(f"sqlite integrity_check: {res}")
            for r in conn.execute(select(subscribers.c.supi, subscribers.c.k, subscribers.c.sqn)):
                if r.k is None or len(r.k) != 32:
                    problems.append(f"{r.supi}: bad K")
                if r.sqn is None or not 0 <= r.sqn <= SQN_MAX:
                    problems.append(f"{r.supi}: bad SQN")
        return problems


_SQL_GET = ("SELECT supi, k, opc, op, amf, sqn, auth_method, profile, data, version "
            "FROM subscribers WHERE supi = ?")
_SQL_PROFILE = "SELECT data FROM profiles WHERE name = ?"
_SQL_CAS = "UPDATE subscribers SET sqn = ? WHERE supi = ? AND sqn = ?"
_SQL_EXISTS = "SELECT 1 FROM subscribers WHERE supi = ?"
_SQL_SQN = "SELECT sqn FROM subscribers WHERE supi = ?"
_SQL_GEN = "SELECT gen FROM store_gen WHERE id = 0"
_SQL_GET_GEN = ("SELECT supi, k, opc, op, amf, sqn, auth_method, profile, data, version, "
                "(SELECT gen FROM store_gen WHERE id = 0) FROM subscribers WHERE supi = ?")
_SQL_GET_NOGEN = ("SELECT supi, k, opc, op, amf, sqn, auth_method, profile, data, version, NULL "
                  "FROM subscribers WHERE supi = ?")
_SQL_HAS_GEN = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_gen'"
_SQL_CTX_INS = "INSERT INTO context_data (supi, kind, key, data) VALUES (?, ?, ?, ?)"
_SQL_CTX_INS_SUB = ("INSERT INTO context_data (supi, kind, key, data) SELECT ?, ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM subscribers WHERE supi = ?)")
_SQL_CTX_UPD = "UPDATE context_data SET data = ? WHERE supi = ? AND kind = ? AND key = ?"
_SQL_CTX_GET = "SELECT data FROM context_data WHERE supi = ? AND kind = ? AND key = ?"
_SQL_CTX_GET_SUB = ("SELECT (SELECT data FROM context_data WHERE supi = ? AND kind = ? AND key = ?), "
                    "EXISTS (SELECT 1 FROM subscribers WHERE supi = ?)")
_ROW_CACHE_MAX = 100_000


class _Entry:
    """A cached subscriber: the decoded row with the generation it was read under, and its SQN
    with the data_version it was read (or written) under."""

    __slots__ = ("base", "data_text", "gen", "sqn", "sqn_dv")

    def __init__(self, base: Subscriber, data_text: str | None, gen: int, sqn: int, sqn_dv: int) -> None:
        self.base = base
        self.data_text = data_text
        self.gen = gen
        self.sqn = sqn
        self.sqn_dv = sqn_dv
_EFFECTIVE_CACHE_MAX = 10_000


def _sqn(v: Any) -> int:
    if isinstance(v, str):
        v = int(v, 16)
    if not isinstance(v, int) or not 0 <= v <= SQN_MAX:
        raise StoreError("SQN must be a 48-bit number")
    return v


def _sub(row: Any) -> Subscriber:
    return Subscriber(
        supi=row.supi,
        k=bytes.fromhex(row.k),
        opc=bytes.fromhex(row.opc) if row.opc else None,
        op=bytes.fromhex(row.op) if row.op else None,
        amf=bytes.fromhex(row.amf),
        sqn=int(row.sqn),
        auth_method=row.auth_method,
        profile=row.profile,
        data=row.data if isinstance(row.data, dict) else (json.loads(row.data) if row.data else {}),
        version=row.version,
    )


class WalCheckpointer:
    """``PRAGMA wal_checkpoint(PASSIVE)`` every ``period`` seconds on a connection of its own."""

    def __init__(self, db: str, period: float = 1.0) -> None:
        # A page written many times between two rounds is copied back once, and each round
        # ends with an fsync of the database: one round a second instead of four cost the
        # thread 6 instead of 8 µs per attach at 500 attaches/s (bench: store writes of an attach).
        #: frames in the WAL and frames written back by the last round (PRAGMA wal_checkpoint)
        self.last: tuple[int, int] = (0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(db, period), name="store-wal-checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self, db: str, period: float) -> None:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(period):
                try:
                    _busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.last = (frames, done)
                except sqlite3.Error as exc:  # e.g. the file went away; the next round retries
                    log.debug("event=wal_checkpoint_failed err=%s", exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
