"""SM contexts on disk, so PDU sessions survive a restart of the SMF (``smf.persist``).

TS 23.527 §4 (restoration procedures) leaves it to the SMF how much survives its restart;
without anything kept, the AMF's PDU session status tells each UE its sessions are gone and the
UPF drops the old PFCP sessions on the new Recovery Time Stamp (TS 29.244 §6.2.6.2, §19A).
Here the SMF keeps, per PDU session, what serving it again needs (TS 23.502 §4.3.2.2.1, TS 29.502
SmContext): SUPI, PDU session ID, DNN, S-NSSAI, PDU session type and SSC mode, the UE's IPv4
address / IPv6 prefix (the pools take them back: never handed out twice), the SM context
reference the AMF holds, the PFCP F-SEIDs (ours and the UPF's) and the UPF (N4 address), the N3
F-TEIDs (UPF side and gNB side), the QoS flow (QFI, 5QI, ARP) and Session-AMBR, the AMF it
talks to (instance ID, callback and status URIs), the PCF SM policy association ID, the UDM
registration flag, the user-plane state (active / deactivated) and the 5GSM state.

**Restart.** Before its SBI serves anything the SMF reads the file back
(:meth:`SmfPersistence.open`): every SM context, indexed as before (reference, SUPI+PSI, local
SEID; the SEID allocator skips those in use), each UPF it names in the N4 peer list with
``retain_sessions`` set. The first PFCP Association Setup to such a UPF carries the PFCP
Session Retention Information with our CP PFCP Entity IP Address (TS 29.244 §6.2.6.2,
Rel-16): the UPF keeps the sessions whose CP F-SEID has that address, answers PSREI, and
nothing else happens -- the next Service Request (Update SM Context, upCnxState ACTIVATING)
finds the context and the UPF's session. A UPF that answers without PSREI (it restarted as
well, or gave the association up) gets the sessions re-created with the same address and
tunnel (``on_upf_restart`` in restore mode).

**Peers that lost state in the same restart** (``fivecore up`` runs PCF and UDM in the SMF's
process): the PCF's SM policy association is gone; the SMF keeps its decision (AMBR, 5QI, ARP)
and a later delete that gets 404 carries on (TS 29.512 allows the SMF to proceed, the
association no longer exists). The UDM's SMF registration lives in the UDR (the store), which
survives; a deregistration that gets 404 carries on as well.

**Cost.** Nothing is written per message: the SBI procedures mark a session
(:meth:`fivecore.nf.smf.context.SmfContext.touch`) when something kept changes; every
``smf.persist_flush_ms`` the marked ones are written (or deleted) in one transaction. A session
still being established (no N4 session yet) is not written: after a crash the AMF's update
finds no context (404) and the UE establishes it again, as without persistence.

The file (:class:`SmContextFile`) is a :class:`fivecore.nf.common.persist.ContextFile`: one
SMF process per file (flock), damaged / foreign files moved aside or left alone.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fivecore.nf.common.persist import (
    ContextFile,
    PersistError,
    PersistFileError,
    WriteBehind,
    move_aside,
    read_meta,
)
from fivecore.nf.smf.context import SmContext, SmfContext, SmState
from fivecore.nf.smf.pfcp import UpfPeer

if TYPE_CHECKING:
    from fivecore.config import Config

log = logging.getLogger("fivecore.smf.persist")

FORMAT = "fivecore-smf-sm-contexts"
VERSION = 1
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE sm (ref TEXT PRIMARY KEY, supi TEXT NOT NULL, psi INTEGER NOT NULL, body TEXT NOT NULL)"
    " WITHOUT ROWID",
)
_STATES = {s.value: s for s in SmState}

__all__ = ["PersistError", "PersistFileError", "SmContextFile", "SmRecord", "SmfPersistence"]


@dataclass(slots=True)
class SmRecord:
    """What is stored for one PDU session (see the module docstring); ``body`` is the JSON."""

    ref: str
    supi: str
    psi: int
    body: dict[str, Any]

    def text(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


def record_of(sm: SmContext) -> SmRecord | None:
    """The record of a session to keep, or None: no N4 session yet (still being established,
    or its N4 session is being set up again after a UPF restart) or being released."""
    if sm.upf is None or sm.upf_seid is None or sm.ul_teid is None or sm.state in (
            SmState.INACTIVE, SmState.INACTIVE_PENDING):
        return None
    return SmRecord(sm.ref, sm.supi, sm.psi, {
        "pti": sm.pti, "dnn": sm.dnn, "snssai": sm.snssai, "type": sm.pdu_type, "ssc": sm.ssc_mode,
        "state": sm.state.value, "v4": sm.ue_ipv4,
        "v6": str(sm.ue_ipv6_prefix) if sm.ue_ipv6_prefix is not None else None, "pool": sm.pool,
        "amf": sm.amf_instance_id, "amf_uri": sm.amf_uri, "status_uri": sm.status_uri, "pei": sm.pei,
        "gpsi": sm.gpsi, "sn": sm.serving_network, "an": sm.an_type, "rat": sm.rat_type,
        "seid": sm.local_seid, "upf": [sm.upf.address, sm.upf.port], "upf_seid": sm.upf_seid,
        "ul": [sm.ul_teid, sm.ul_ip], "dl": [sm.dl_teid, sm.dl_ip] if sm.dl_teid is not None else None,
        "qfi": sm.qfi, "ambr": [sm.ambr_ul, sm.ambr_dl], "5qi": sm.five_qi, "arp": sm.arp,
        "policy": sm.policy_id, "up": sm.up_active, "udm": sm.udm_registered,
    })


# --- checked reading ------------------------------------------------------------------------


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise PersistError("SM record: a string is missing")
    return v


def _ostr(v: Any) -> str | None:
    return None if v is None else _str(v)


def _uint(v: Any, bits: int) -> int:
    if type(v) is not int or not 0 <= v < (1 << bits):
        raise PersistError(f"SM record: {v!r} is not a {bits}-bit unsigned integer")
    return v


def _ip4(v: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(_str(v)))
    except ValueError:
        raise PersistError(f"SM record: {v!r} is not an IPv4 address") from None


def _odict(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if not isinstance(v, dict):
        raise PersistError("SM record: an object is missing")
    return v


def restore_sm(ref: Any, supi: Any, psi: Any, text: Any) -> tuple[SmContext, tuple[str, int]]:
    """An SM context from its stored row and the UPF (address, port) it lives on;
    :class:`PersistError` for anything that does not check out."""
    try:
        b = json.loads(text)
        if not isinstance(b, dict):
            raise PersistError("SM record: not an object")
        snssai = _odict(b["snssai"])
        if snssai is None:
            raise PersistError("SM record: S-NSSAI missing")
        _uint(snssai.get("sst"), 8)
        sd = snssai.get("sd")
        if sd is not None and not (isinstance(sd, str) and re.fullmatch(r"[0-9a-fA-F]{6}", sd)):
            raise PersistError("SM record: S-NSSAI SD malformed")  # TS 29.571 §5.4.4.2: 6 hex digits
        sm = SmContext(_str(ref), _str(supi), _uint(psi, 8), _str(b["dnn"]), snssai)
        if not 1 <= sm.psi <= 15:
            raise PersistError("SM record: PDU session ID out of range")
        sm.pti = _uint(b["pti"], 8)
        sm.pdu_type = _uint(b["type"], 3)
        sm.ssc_mode = _uint(b["ssc"], 2)
        state = _STATES.get(b["state"])
        if state is None or state in (SmState.INACTIVE, SmState.INACTIVE_PENDING):
            raise PersistError(f"SM record: state {b['state']!r}")
        sm.state = state
        sm.ue_ipv4 = None if b["v4"] is None else _ip4(b["v4"])
        sm.ue_ipv6_prefix = None if b["v6"] is None else ipaddress.IPv6Network(_str(b["v6"]))
        if sm.ue_ipv6_prefix is not None and sm.ue_ipv6_prefix.prefixlen != 64:
            raise PersistError("SM record: IPv6 prefix is not a /64")
        sm.pool = _ostr(b["pool"])
        sm.amf_instance_id, sm.amf_uri, sm.status_uri = _ostr(b["amf"]), _ostr(b["amf_uri"]), _ostr(b["status_uri"])
        sm.pei, sm.gpsi = _ostr(b["pei"]), _ostr(b["gpsi"])
        sm.serving_network = _odict(b["sn"])
        sm.an_type, sm.rat_type = _str(b["an"]), _str(b["rat"])
        sm.local_seid = _uint(b["seid"], 64)
        upf = (_ip4(b["upf"][0]), _uint(b["upf"][1], 16))
        sm.upf_seid = _uint(b["upf_seid"], 64)
        sm.ul_teid, sm.ul_ip = _uint(b["ul"][0], 32), _ip4(b["ul"][1])
        if b["dl"] is not None:
            sm.dl_teid, sm.dl_ip = _uint(b["dl"][0], 32), _ip4(b["dl"][1])
        sm.qfi = _uint(b["qfi"], 6)
        sm.ambr_ul, sm.ambr_dl = _uint(b["ambr"][0], 64), _uint(b["ambr"][1], 64)
        sm.five_qi, sm.arp = _uint(b["5qi"], 8), _uint(b["arp"], 4)
        sm.policy_id = _ostr(b["policy"])
        sm.up_active = b["up"] is True and sm.dl_teid is not None
        sm.udm_registered = b["udm"] is True
    except PersistError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
        raise PersistError(f"unreadable SM record: {exc!r}") from None
    if sm.local_seid == 0 or sm.pdu_type not in (1, 2, 3) or (sm.pdu_type != 2 and sm.ue_ipv4 is None) \
            or (sm.pdu_type != 1 and sm.ue_ipv6_prefix is None):
        raise PersistError("SM record: SEID 0 or an address missing for the PDU session type")
    return sm, upf


# --- the file --------------------------------------------------------------------------------


class SmContextFile(ContextFile):
    """The SQLite file of one SMF's SM contexts, owned by its N4 endpoint (``address:port``)."""

    FORMAT = FORMAT
    VERSION = VERSION
    SCHEMA = _SCHEMA
    TABLE = "sm"
    OWNER = ("n4", "N4 endpoint")
    NF = "SMF"
    KIND = "SM context file"

    def __init__(self, path: str | Path, n4: str, fsync: bool = False, instance_id: str | None = None) -> None:
        self.bad_rows = 0
        self.bad_refs: list[str] = []
        super().__init__(path, n4, fsync, {"smf_instance_id": instance_id} if instance_id is not None else None)

    def load(self) -> Iterator[tuple[Any, Any, Any, Any]]:
        """Every stored row (ref, supi, psi, body), one at a time; :class:`PersistFileError`
        when the file fails underneath."""
        try:
            yield from self.db.execute("SELECT ref, supi, psi, body FROM sm")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise PersistFileError(f"{self.path}: {exc}", ours=True) from None

    def write(self, upserts: Iterable[SmRecord] = (), deletes: Iterable[str] = ()) -> None:
        """One transaction: records written (replacing) and deleted by reference."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO sm VALUES (?, ?, ?, ?)",
                           [(r.ref, r.supi, r.psi, r.text()) for r in upserts])
            db.executemany("DELETE FROM sm WHERE ref = ?", [(r,) for r in deletes])

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM sm").fetchone()[0])


def n4_key(config: Config) -> str:
    p = config.smf.pfcp
    return f"{p.address}-{p.port}"


def default_path(config: Config) -> Path:
    """``smf.persist_file``, else a file named by the N4 endpoint beside the subscriber store's
    SQLite file (each SMF of an AMF Set has its own N4 address), else in
    ``$FIVECORE_DATA_DIR`` (``var``)."""
    s = config.smf
    if s.persist_file is not None:
        return Path(s.persist_file).expanduser()
    name = f"smf-sm-contexts-{n4_key(config)}.db"
    if config.uses_default_store():
        return config.up.data_dir.expanduser().resolve() / name
    uri = config.db_uri
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).expanduser().parent / name
    return Path(os.environ.get("FIVECORE_DATA_DIR", "var")).expanduser() / name


def stored_instance_id(config: Config) -> str | None:
    """The NF instance ID of the SMF whose SM contexts are in the file (its UDM registrations
    and the AMF's discovery name it), or None. Read-only."""
    meta = read_meta(default_path(config))
    if meta is None or meta.get("format") != FORMAT or meta.get("n4") != n4_key(config):
        return None
    iid = meta.get("smf_instance_id")
    return iid or None


def discard_stale(config: Config) -> Path | None:
    """``smf.persist: false``: move aside an SM context file left by an earlier run with
    persistence on (where the moved file went, or None). Its sessions were not kept up to date
    while persistence was off; restored later, they would claim addresses and ask the UPF to
    retain PFCP sessions of other processes. A file another SMF process holds (its flock) is
    left alone."""
    path = default_path(config)
    if not path.exists():
        return None
    try:
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    try:
        aside = move_aside(path)
    except PersistError as exc:
        log.warning("event=smf_persist_stale_file_kept err=%s", exc)
        return None
    finally:
        os.close(fd)
    log.warning("event=smf_persist_stale_file_moved reason=persist_off moved_to=%s", aside)
    return aside


# --- the SMF's side --------------------------------------------------------------------------


class SmfPersistence(WriteBehind):
    """Write-behind of one SMF's SM contexts: restore at start (:meth:`open`), batched flushes
    (see the module docstring). ``peers``: the N4 peer list (restored sessions' UPFs are added
    to it); ``pool_factory(dnn, v6)``: the pool of a configured DNN the context has not made
    yet (:meth:`fivecore.nf.smf.sbi.SmfService.pool_for`). Nothing touches the disk before
    :meth:`open`."""

    EVENT = "smf"
    LOG = log
    RESTORED = "sessions"

    def __init__(self, ctx: SmfContext, peers: list[UpfPeer], path: str | Path, n4: str, *,
                 fsync: bool = False, flush_interval: float = 0.1, instance_id: str | None = None,
                 pool_factory: Any = None) -> None:
        self.ctx = ctx
        self.peers = peers
        self.path = Path(path)
        self.n4 = n4
        self.fsync = fsync
        self.interval = flush_interval
        self.instance_id = instance_id
        #: ``(dnn, v6) -> pool`` for a DNN whose pool the context does not have yet
        self.pool_factory = pool_factory
        self.file: SmContextFile | None = None

    @classmethod
    def for_app(cls, app: Any) -> SmfPersistence:
        """The persistence of an :class:`~fivecore.nf.smf.app.SmfApp`, from its configuration."""
        cfg = app.config
        s = cfg.smf
        return cls(app.ctx, app.peers, default_path(cfg), n4_key(cfg), fsync=s.persist_fsync,
                   flush_interval=s.persist_flush_ms / 1000.0, instance_id=app.instance_id,
                   pool_factory=app.service.pool_for)

    # --- start / stop ------------------------------------------------------------------------

    def _make_file(self) -> SmContextFile:
        return SmContextFile(self.path, self.n4, self.fsync, self.instance_id)

    def _peer(self, addr: tuple[str, int], sm: SmContext) -> UpfPeer:
        for p in self.peers:
            if p.address == addr[0] and p.port == addr[1]:
                return p
        # a UPF no longer configured (or found through the NRF, not yet discovered): its
        # sessions are still there, so it stays an N4 peer for them
        from fivecore.nf.smf.sbi import _snssai_tuple

        peer = UpfPeer(addr[0], addr[1], (sm.dnn,), (_snssai_tuple(sm.snssai),))
        self.peers.append(peer)
        return peer

    def _restore(self, rows: Iterable[tuple[Any, Any, Any, Any]]) -> int:
        ctx = self.ctx
        n = 0
        bad: list[Any] = []
        for row in rows:
            try:
                sm, upf = restore_sm(*row)
                self._index(sm)
            except PersistError as exc:
                bad.append(row[0])
                log.warning("event=smf_persist_bad_record err=%s", exc)
                continue
            peer = sm.upf = self._peer(upf, sm)  # restore_sm checked the S-NSSAI it reads
            peer.retain_sessions = True
            n += 1
            ctx.count("persist_restored")
        f = self.file
        if f is not None and bad:
            ctx.count("persist_bad_records", len(bad))
            try:  # records that can never be served go, so they are not warned about forever
                f.write(deletes=[r for r in bad if isinstance(r, str)])
            except PersistError as exc:
                log.warning("event=smf_persist_write_failed err=%s", exc)
        log.info("event=smf_persist_restored sessions=%d bad=%d file=%s", n, len(bad), self.path)
        return n

    def _index(self, sm: SmContext) -> None:
        """Put a restored session in the context's indexes and take its addresses back from the
        pools; :class:`PersistError` (nothing changed) on any clash."""
        ctx = self.ctx
        if sm.ref in ctx.by_ref or (sm.supi, sm.psi) in ctx.by_ue or sm.local_seid in ctx.by_seid:
            raise PersistError("SM record: reference, PDU session or SEID already in use")
        v4pool = v6pool = None
        if sm.pool is None:
            raise PersistError("SM record: no pool")
        if sm.ue_ipv4 is not None:
            v4pool = ctx.pools.get(sm.pool) or self._make_pool(sm.pool, False)
            if v4pool is None or not v4pool.take(sm.ue_ipv4):
                raise PersistError(f"SM record: {sm.ue_ipv4} is not free in pool {sm.pool}")
        if sm.ue_ipv6_prefix is not None:
            v6pool = ctx.v6pools.get(sm.pool) or self._make_pool(sm.pool, True)
            if v6pool is None or not v6pool.take(sm.ue_ipv6_prefix):
                if v4pool is not None and sm.ue_ipv4 is not None:
                    v4pool.release(sm.ue_ipv4)
                raise PersistError(f"SM record: {sm.ue_ipv6_prefix} is not free in pool {sm.pool}")
        ctx.by_ref[sm.ref] = sm
        ctx.by_ue[(sm.supi, sm.psi)] = sm
        ctx.by_seid[sm.local_seid] = sm

    def _make_pool(self, dnn: str, v6: bool) -> Any:
        if self.pool_factory is None:
            return None
        try:
            return self.pool_factory(dnn, v6)
        except (KeyError, TypeError, ValueError):
            return None  # the DNN is no longer configured

    # --- writing -------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every session marked since the last flush in one transaction; how many rows."""
        ctx = self.ctx
        f = self.file
        dirty = ctx.dirty
        if f is None or not dirty:
            return 0
        ctx.dirty = set()
        upserts: list[SmRecord] = []
        deletes: list[str] = []
        by_ref = ctx.by_ref
        for ref in dirty:
            sm = by_ref.get(ref)
            rec = record_of(sm) if sm is not None else None
            if rec is None:
                deletes.append(ref)
            else:
                upserts.append(rec)
        try:
            f.write(upserts, deletes)
        except PersistError as exc:
            ctx.count("persist_write_failed")
            log.warning("event=smf_persist_write_failed err=%s sessions=%d", exc, len(dirty))
            ctx.dirty.update(dirty)  # kept for the next flush
            return 0
        ctx.count("persist_flushes")
        if upserts:
            ctx.count("persist_written", len(upserts))
        if deletes:
            ctx.count("persist_deleted", len(deletes))
        return len(upserts) + len(deletes)
