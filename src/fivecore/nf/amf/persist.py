"""Registered UEs' 5GMM contexts on disk, so they survive a restart of the AMF.

What a restart must not lose (TS 23.501 §5.3.2, TS 24.501 §4.4.2 and §5.3.2): for every UE
in 5GMM-REGISTERED, its SUPI, 5G-GUTI (5G-TMSI, and the second one still valid after an
unanswered Registration Accept, TS 24.501 §5.5.1.2.8 c), the current 5G NAS security context
(ngKSI, KAMF, the selected NEA/NIA, the uplink and downlink NAS COUNTs, TS 33.501 §6.4.3.1), the
UE security capability, the allowed NSSAI, the registration area and periodic timer it was
given, its subscribed UE-AMBR, the last TAC (for paging) and its PDU sessions with the SMF and
SM context reference each needs (TS 23.502 §4.2.3.2: what a Service Request reactivates). A
restarted AMF reads them back as 5GMM-REGISTERED, CM-IDLE UEs: a Service Request or a
mobility / periodic registration update verifies under the stored context and is accepted,
without a new authentication (TS 33.501 §6.1.3: no AKA is needed while a valid native context
exists) and without the #9 / #10 rejects and the re-registration storm that would follow.

Not stored: the NH / NCC chain of Xn handover (TS 33.501 §6.9.2.3.3,
:mod:`fivecore.nf.amf.handover`). It belongs to the AS security context of a CM-CONNECTED UE,
which an AMF restart ends (the N2 associations go); the next Initial Context Setup starts a
new chain from its KgNB at NCC 0.

**Downlink NAS COUNT across a restart (TS 33.501 §6.4.3.1, §6.4.4.1; TS 24.501 §4.4.3.1).**
A COUNT must never be used twice under one K_NASenc / K_NASint: NEA would reuse key stream and
the UE would see a replay. The AMF therefore keeps a *reservation ceiling* on disk beside each
context and holds the invariant "every downlink COUNT ever sent under this key is below the
ceiling stored for it": a record is written with ``ceiling = next DL COUNT + DL_BLOCK``; when
the live COUNT comes within ``DL_RESERVE_LOW`` of the stored ceiling a new one is written with
the next batch; and should a message be about to use the ceiling itself before that batch is
written, the new ceiling is written and committed *before* the message is protected
(:meth:`AmfPersistence.reserve`). A restarted AMF resumes the downlink COUNT at the stored
ceiling, above anything it can have used, and with that ceiling as its reservation: its first
downlink message reserves the next block (synchronously, one small commit), so restarts with no
message between them never widen the jump. The UE estimates the NAS overflow counter from the
8-bit sequence number (TS 24.501 §4.4.3.1), so it follows a forward jump of at most 255;
``DL_BLOCK`` = 64 keeps the jump at about 65 after a restart. A new key (Security Mode Command
after a new authentication) starts with nothing reserved: until its record is written a crash
loses that context (the UE registers again), it never reuses a COUNT. Uplink: the stored next
acceptable COUNT is restored; later uplink COUNTs are accepted as usual. It is written with the
record and with every ceiling update: for a UE CM-CONNECTED at the crash, the uplink messages
accepted after the last write (a few dozen at most) could be replayed to the restarted AMF
once; for an idle UE (written when it went CM-IDLE) none.

**Cost (issue 9).** Nothing is written per NAS message: 5GMM marks a UE (``AmfContext.touch``)
at the state changes that matter -- Registration Complete, a new 5G-GUTI, CM-IDLE,
de-registration, a PDU session created or gone -- and :meth:`AmfPersistence.flush` writes every
marked UE in one transaction every ``amf.persist_flush_ms`` (a UE marked twice is written once).
A UE in the middle of a registration (new KAMF, old NAS context) is written once it is over.
The file is SQLite in WAL mode; ``amf.persist_fsync`` adds an fsync per transaction (power-loss
safety; without it, what was committed survives a crash of the process).

The file also keeps the AMF's NF instance ID (see :func:`stored_instance_id`), and one AMF
process holds it at a time (an flock on ``<file>.lock``; a second AMF with the same GUAMI runs
without persistence rather than write over the first).

A file that is not SQLite or is damaged, or one written by another AMF (other GUAMI) or format
version, raises :class:`PersistFileError`; the AMF moves it aside, logs a warning and starts
with no UEs. A SQLite file of something else (say the subscriber store, named by mistake) is
left untouched and the AMF runs without persistence.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fivecore.errors import FivecoreError
from fivecore.nf.amf.context import AmfContext, GmmState, UeContext
from fivecore.nf.common.persist import (
    ContextFile,
    PersistError,
    PersistFileError,
    WriteBehind,
    read_meta,
)
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.wire.nas.ies import UeSecurityCapability, dec_ue_sec_cap, enc_ue_sec_cap

if TYPE_CHECKING:
    from fivecore.config import Config
    from fivecore.nf.amf.gmm import Gmm

log = logging.getLogger("fivecore.amf.persist")

FORMAT = "fivecore-amf-ue-contexts"
VERSION = 1
#: downlink NAS COUNTs reserved per write (see the module docstring; < 256 - DL_RESERVE_LOW)
DL_BLOCK = 64
_COUNT_LIMIT = 1 << 24  # TS 24.501 §4.4.3.1: NAS COUNT is 24 bits
#: procedures during which the stored fields (KAMF, NAS context, 5G-GUTI) stay consistent
_CONSISTENT_PROCS = frozenset({"paging", "configuration_update", "deregistration_nw"})

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE ue (supi TEXT PRIMARY KEY, tmsi INTEGER NOT NULL, dl_ceiling INTEGER NOT NULL,"
    " body TEXT NOT NULL) WITHOUT ROWID",
)


@dataclass(slots=True)
class SessionRecord:
    """One PDU session as the AMF keeps it (TS 23.501 §5.6.2: the SMF serving it)."""

    psi: int
    smf_uri: str | None
    sm_ref: str
    snssai: dict[str, Any]
    dnn: str | None
    status_token: str


@dataclass(slots=True)
class UeRecord:
    """What is stored for one registered UE (see the module docstring)."""

    supi: str
    tmsi: int
    old_tmsi: int | None
    ngksi: int
    kamf: bytes
    enc_alg: int
    int_alg: int
    ul_count: int
    dl_ceiling: int
    ue_sec_cap: bytes | None
    allowed_nssai: tuple[tuple[int, int | None], ...]
    tacs: tuple[int, ...]
    tac: int | None
    ue_ambr: tuple[int, int] | None
    t3512: int
    registered_with_udm: bool
    suci_scheme: int | None
    sessions: tuple[SessionRecord, ...] = ()

    def body(self) -> str:
        """The JSON kept beside the indexed columns (supi, tmsi, dl_ceiling)."""
        return json.dumps({
            "o": self.old_tmsi, "k": self.ngksi, "kamf": self.kamf.hex(), "ea": self.enc_alg,
            "ia": self.int_alg, "ul": self.ul_count,
            "cap": self.ue_sec_cap.hex() if self.ue_sec_cap is not None else None,
            "nssai": [list(s) for s in self.allowed_nssai], "tacs": list(self.tacs), "tac": self.tac,
            "ambr": list(self.ue_ambr) if self.ue_ambr is not None else None, "t3512": self.t3512,
            "udm": self.registered_with_udm, "suci": self.suci_scheme,
            "s": [[s.psi, s.smf_uri, s.sm_ref, s.snssai, s.dnn, s.status_token] for s in self.sessions],
        }, separators=(",", ":"))

    @classmethod
    def from_row(cls, supi: Any, tmsi: Any, dl_ceiling: Any, body: Any) -> UeRecord:
        """Decode one stored row; :class:`PersistError` for anything that does not check out."""
        try:
            b = json.loads(body)
            rec = cls(
                supi=_str(supi), tmsi=_uint(tmsi, 32), old_tmsi=_opt(b["o"], lambda v: _uint(v, 32)),
                ngksi=_uint(b["k"], 3), kamf=_hex(b["kamf"], 32), enc_alg=_uint(b["ea"], 2),
                int_alg=_uint(b["ia"], 2), ul_count=_uint(b["ul"], 24), dl_ceiling=_uint(dl_ceiling, 24),
                ue_sec_cap=_opt(b["cap"], lambda v: _hex(v, None)),
                allowed_nssai=tuple((_uint(s[0], 8), _opt(s[1], lambda v: _uint(v, 24))) for s in b["nssai"]),
                tacs=tuple(_uint(t, 24) for t in b["tacs"]), tac=_opt(b["tac"], lambda v: _uint(v, 24)),
                ue_ambr=_opt(b["ambr"], lambda v: (_uint(v[0], 64), _uint(v[1], 64))),
                t3512=_uint(b["t3512"], 32), registered_with_udm=bool(b["udm"]),
                suci_scheme=_opt(b["suci"], lambda v: _uint(v, 4)),
                sessions=tuple(SessionRecord(_uint(s[0], 4), _opt(s[1], _str), _str(s[2]), _dict(s[3]),
                                             _opt(s[4], _str), _str(s[5])) for s in b["s"]),
            )
        except PersistError:
            raise
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise PersistError(f"unreadable UE record: {exc}") from None
        if rec.ue_sec_cap is not None:
            try:
                dec_ue_sec_cap(rec.ue_sec_cap)
            except FivecoreError as exc:
                raise PersistError(f"UE record: {exc}") from None
        if rec.int_alg == 0 or rec.ngksi == 7 or not all(1 <= s.psi <= 15 for s in rec.sessions):
            raise PersistError("UE record: NIA0, no key (ngKSI 7) or a PDU session ID out of range")
        return rec


def _str(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise PersistError("UE record: a string is missing")
    return v


def _uint(v: Any, bits: int) -> int:
    if type(v) is not int or not 0 <= v < (1 << bits):
        raise PersistError(f"UE record: {v!r} is not a {bits}-bit unsigned integer")
    return v


def _hex(v: Any, length: int | None) -> bytes:
    b = bytes.fromhex(_str(v))
    if length is not None and len(b) != length:
        raise PersistError(f"UE record: {len(b)} octets where {length} are needed")
    return b


def _dict(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise PersistError("UE record: an object is missing")
    return v


def _opt(v: Any, conv: Any) -> Any:
    return None if v is None else conv(v)


# --- between UE contexts and records ---------------------------------------------------------


def record_of(ue: UeContext, ctx: AmfContext, sessions: dict[int, Any] | None, t3512: int,
              tacs: tuple[int, ...]) -> UeRecord | None:
    """The record of a UE to keep, or None when there is nothing to keep: not 5GMM-REGISTERED,
    or no 5G-GUTI / KAMF / NAS security context to resume with (TS 24.501 §5.3.2)."""
    sec = ue.sec
    if (ue.state != GmmState.REGISTERED or sec is None or ue.kamf is None or ue.supi is None
            or ue.tmsi is None or ue.ngksi == 7):
        return None
    cap = ue.ue_sec_cap
    cap_raw = enc_ue_sec_cap(cap) if isinstance(cap, UeSecurityCapability) else (
        bytes(cap) if isinstance(cap, bytes | bytearray) else None)
    kept = tuple(
        SessionRecord(s.psi, s.smf_uri, s.sm_ref, dict(s.snssai), s.dnn, s.status_token)
        for s in (sessions or {}).values() if s.sm_ref is not None
    )
    return UeRecord(
        supi=ue.supi, tmsi=ue.tmsi, old_tmsi=ctx.old_tmsi.get(ue.amf_ue_ngap_id) if ctx.old_tmsi else None,
        ngksi=ue.ngksi, kamf=ue.kamf, enc_alg=sec.enc_alg, int_alg=sec.int_alg, ul_count=sec.ul_count,
        dl_ceiling=min(sec.dl_count + DL_BLOCK, _COUNT_LIMIT - 1), ue_sec_cap=cap_raw,
        allowed_nssai=tuple(ue.allowed_nssai), tacs=tuple(tacs), tac=ue.tac, ue_ambr=ue.ue_ambr,
        t3512=t3512, registered_with_udm=ue.registered_with_udm, suci_scheme=ue.suci_scheme,
        sessions=kept,
    )


def restore_ue(rec: UeRecord, ctx: AmfContext, shared: dict[Any, Any] | None = None) -> UeContext:
    """A 5GMM-REGISTERED, CM-IDLE UE context from its record, indexed by SUPI and 5G-TMSI.

    The downlink NAS COUNT resumes at the stored ceiling, which is also the UE's reserved
    ceiling: its first downlink message makes :meth:`AmfPersistence.reserve` write a new one.
    Raises :class:`PersistError` when the SUPI or a 5G-TMSI is already taken. ``shared``: one
    dict for a whole restore, so UEs with equal allowed NSSAI, UE-AMBR and security capability
    share one object each (issue 6: RAM per idle UE).
    """
    if rec.supi in ctx.by_supi or rec.tmsi in ctx.by_tmsi or (rec.old_tmsi is not None and rec.old_tmsi in ctx.by_tmsi):
        raise PersistError("UE record: SUPI or 5G-TMSI already in use")
    try:
        sec = NasSecurityContext.from_kamf(Role.NETWORK, rec.kamf, int_alg=rec.int_alg, enc_alg=rec.enc_alg,
                                           ul_count=rec.ul_count, dl_count=rec.dl_ceiling)
    except FivecoreError as exc:
        raise PersistError(f"UE record: {exc}") from None
    ue = UeContext(ctx.next_amf_ue_ngap_id())
    ue.state = GmmState.REGISTERED
    ue.supi = rec.supi
    ue.suci_scheme = rec.suci_scheme
    ue.ngksi = rec.ngksi
    ue.kamf = rec.kamf
    ue.sec = sec
    ue.nr_enc_alg, ue.nr_int_alg = rec.enc_alg, rec.int_alg
    cap = dec_ue_sec_cap(rec.ue_sec_cap) if rec.ue_sec_cap is not None else None
    if shared is None:
        shared = {}
    ue.ue_sec_cap = shared.setdefault(cap, cap)
    ue.allowed_nssai = shared.setdefault(rec.allowed_nssai, rec.allowed_nssai)
    ue.tac = rec.tac
    ue.ue_ambr = shared.setdefault(rec.ue_ambr, rec.ue_ambr)
    ue.registered_with_udm = rec.registered_with_udm
    ue.dl_ceiling = rec.dl_ceiling
    ue.tmsi = rec.tmsi
    ctx.ues[ue.amf_ue_ngap_id] = ue
    ctx.by_supi[rec.supi] = ue
    ctx.by_tmsi[rec.tmsi] = ue
    if rec.old_tmsi is not None and rec.old_tmsi != rec.tmsi:
        ctx.by_tmsi[rec.old_tmsi] = ue
        ctx.old_tmsi[ue.amf_ue_ngap_id] = rec.old_tmsi
    return ue


# --- the file --------------------------------------------------------------------------------


class UeContextFile(ContextFile):
    """The SQLite file of one AMF's stored UE contexts (see the module docstring).

    Opening checks it is a UE context file of this format for ``guami`` (``plmn-region-set-
    pointer``), creating it (mode 0600: it holds KAMFs) when it does not exist; raises
    :class:`PersistFileError` otherwise (:class:`fivecore.nf.common.persist.ContextFile`).
    """

    FORMAT = FORMAT
    VERSION = VERSION
    SCHEMA = _SCHEMA
    TABLE = "ue"
    OWNER = ("guami", "GUAMI")
    NF = "AMF"
    KIND = "UE context file"

    def __init__(self, path: str | Path, guami: str, fsync: bool = False, instance_id: str | None = None) -> None:
        self.guami = guami
        self.bad_rows = 0
        self.bad_supis: list[Any] = []
        super().__init__(path, guami, fsync, {"amf_instance_id": instance_id} if instance_id is not None else None)

    def load(self) -> Iterator[UeRecord]:
        """Every readable stored record, one at a time (a restart with many UEs never holds
        them all as records at once); unreadable rows are skipped, logged and counted in
        :attr:`bad_rows`. :class:`PersistFileError` when the file fails underneath."""
        self.bad_rows = 0
        self.bad_supis: list[Any] = []
        try:
            for row in self.db.execute("SELECT supi, tmsi, dl_ceiling, body FROM ue"):
                try:
                    rec = UeRecord.from_row(*row)
                except PersistError as exc:
                    self.bad_rows += 1
                    self.bad_supis.append(row[0])
                    log.warning("event=amf_persist_bad_record err=%s", exc)
                    continue
                yield rec
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise PersistFileError(f"{self.path}: {exc}", ours=True) from None

    def write(self, upserts: Iterable[UeRecord] = (), deletes: Iterable[str] = (),
              ceilings: Iterable[tuple[str, int, int]] = ()) -> None:
        """One transaction: records written (replacing), deleted, and ``(supi, DL COUNT
        ceiling, next UL COUNT)`` updated in place."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO ue VALUES (?, ?, ?, ?)",
                           [(r.supi, r.tmsi, r.dl_ceiling, r.body()) for r in upserts])
            db.executemany("DELETE FROM ue WHERE supi = ?", [(s,) for s in deletes])
            db.executemany("UPDATE ue SET dl_ceiling = ?, body = json_set(body, '$.ul', ?) WHERE supi = ?",
                           [(c, ul, s) for s, c, ul in ceilings])

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM ue").fetchone()[0])


def guami_key(config: Config) -> str:
    g = config.amf.guami
    return f"{config.plmn.mcc}{config.plmn.mnc}-{g.region_id:02x}-{g.set_id:03x}-{g.pointer:02x}"


def default_path(config: Config) -> Path:
    """``amf.persist_file``, else a file named by GUAMI beside the subscriber store's SQLite
    file (so each member of an AMF Set has its own), else in ``amf.data_dir``."""
    a = config.amf
    if a.persist_file is not None:
        return Path(a.persist_file).expanduser()
    name = f"amf-ue-contexts-{guami_key(config)}.db"
    if config.uses_default_store():  # where Config.store_uri puts it (not created here)
        return config.up.data_dir.expanduser().resolve() / name
    uri = config.db_uri
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).expanduser().parent / name
    return Path(a.data_dir or os.environ.get("FIVECORE_DATA_DIR", "var")).expanduser() / name


def stored_instance_id(config: Config) -> str | None:
    """The NF instance ID the AMF whose UE contexts are in the file had, or None.

    A restarted AMF keeps it (when ``amf.nf_instance_id`` does not fix one): the UDM holds
    that ID as the UEs' serving AMF (TS 29.503 §5.3.2.2.2), and a new one would make it send
    this very AMF a DeregistrationNotification for each UE it registers again. Read-only.
    """
    meta = read_meta(default_path(config))
    if meta is None:
        return None
    if meta.get("format") != FORMAT or meta.get("guami") != guami_key(config):
        return None
    iid = meta.get("amf_instance_id")
    return iid if isinstance(iid, str) and iid else None


# --- the AMF's side ---------------------------------------------------------------------------


class AmfPersistence(WriteBehind):
    """Write-behind of one AMF's UE contexts: restore at start (:meth:`open`), batched flushes,
    DL COUNT reservations (see the module docstring). ``gmm`` is the AMF's 5GMM entity (its
    context and configuration), ``sessions`` its session relay
    (:class:`fivecore.nf.amf.sessions.AmfSessions`, or None); nothing touches the disk before
    :meth:`open`."""

    EVENT = "amf"
    LOG = log
    RESTORED = "ues"

    def __init__(self, gmm: Gmm, path: str | Path, guami: str, *, fsync: bool = False,
                 flush_interval: float = 0.1, sessions: Any = None, instance_id: str | None = None) -> None:
        self.gmm = gmm
        self.ctx: AmfContext = gmm.ctx
        self.path = Path(path)
        self.guami = guami
        self.fsync = fsync
        self.interval = flush_interval
        self.sessions = sessions
        self.instance_id = instance_id
        self.file: UeContextFile | None = None
        #: SUPIs whose stored DL COUNT ceiling is to be raised with the next flush
        self.ceiling_due: set[str] = set()
        gmm.on_dl_ceiling = self.reserve

    @classmethod
    def for_app(cls, app: Any) -> AmfPersistence:
        """The persistence of an :class:`~fivecore.nf.amf.app.AmfApp`, from its configuration."""
        cfg = app.config
        return cls(app.gmm, default_path(cfg), guami_key(cfg), fsync=cfg.amf.persist_fsync,
                   flush_interval=cfg.amf.persist_flush_ms / 1000.0, sessions=getattr(app, "sessions", None),
                   instance_id=app.instance_id)

    # --- start / stop --------------------------------------------------------------------------

    def _make_file(self) -> UeContextFile:
        return UeContextFile(self.path, self.guami, self.fsync, self.instance_id)

    def _restore(self, records: Iterable[UeRecord]) -> int:
        ctx = self.ctx
        bad = 0
        cap = self.gmm.cfg.max_ue_contexts
        sessions = self.sessions
        n = over = 0
        conflicting: list[str] = []
        shared: dict[Any, Any] = {}
        for rec in records:
            if len(ctx.ues) >= cap:
                over += 1  # kept on disk: such a UE registers again and is written afresh
                continue
            try:
                ue = restore_ue(rec, ctx, shared)
            except PersistError as exc:
                bad += 1
                conflicting.append(rec.supi)
                log.warning("event=amf_persist_bad_record err=%s", exc)
                continue
            if sessions is not None and rec.sessions:
                from fivecore.nf.amf.sessions import AmfSmSession

                sessions.by_supi[rec.supi] = {
                    s.psi: AmfSmSession(s.psi, s.smf_uri, s.sm_ref, s.snssai, s.dnn, status_token=s.status_token)
                    for s in rec.sessions}
            n += 1
            ctx.count("persist_restored")
            self.gmm.start_mobile_reachable(ue)  # TS 24.501 §5.3.7: restored UEs are CM-IDLE
        f = self.file
        if f is not None and (f.bad_rows or conflicting):
            bad += f.bad_rows
            try:  # records that can never be resumed go, so they are not warned about forever
                f.write(deletes=[s for s in (*f.bad_supis, *conflicting) if isinstance(s, str)])
            except PersistError as exc:
                log.warning("event=amf_persist_write_failed err=%s", exc)
        if bad:
            ctx.count("persist_bad_records", bad)
        if over:
            log.warning("event=amf_persist_over_capacity not_restored=%d max_ue_contexts=%d", over, cap)
        log.info("event=amf_persist_restored ues=%d bad=%d file=%s", n, bad, self.path)
        return n

    def close(self) -> None:
        """Clean stop: write what is pending, then close (SQLite checkpoints the WAL). UEs still
        CM-CONNECTED are written too, with the NAS COUNTs they have now."""
        for ue in self.ctx.ues.values():
            if ue.gnb is not None:
                self.ctx.touch(ue)
        super().close()

    # --- writing ---------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write every UE marked since the last flush in one transaction; how many rows."""
        ctx = self.ctx
        f = self.file
        dirty = ctx.dirty
        if f is None or (not dirty and not self.ceiling_due):
            return 0
        ctx.dirty = set()
        due, self.ceiling_due = self.ceiling_due, set()
        cfg = self.gmm.cfg
        sessions = self.sessions
        by_supi = ctx.by_supi
        upserts: list[tuple[UeRecord, UeContext]] = []
        deletes: list[str] = []
        later: list[str] = []
        for supi in dirty or ():
            ue = by_supi.get(supi)
            if ue is None:
                deletes.append(supi)
                continue
            proc = ue.proc
            if proc is not None and proc.name not in _CONSISTENT_PROCS:
                later.append(supi)  # mid-registration: KAMF and NAS context may not match yet
                continue
            rec = record_of(ue, ctx, sessions.by_supi.get(supi) if sessions is not None else None,
                            cfg.t3512, cfg.tacs)
            if rec is None:
                deletes.append(supi)
                ue.dl_ceiling = 0
            else:
                upserts.append((rec, ue))
        written = {r.supi for r, _ in upserts}
        ceilings: list[tuple[str, int, UeContext]] = []
        for supi in due:
            ue = by_supi.get(supi)
            if supi in written or ue is None or ue.sec is None or not ue.dl_ceiling:
                continue
            ceilings.append((supi, min(ue.sec.dl_count + DL_BLOCK, _COUNT_LIMIT - 1), ue))
        try:
            f.write((r for r, _ in upserts), deletes, ((s, c, ue.sec.ul_count) for s, c, ue in ceilings))
        except PersistError as exc:
            ctx.count("persist_write_failed")
            log.warning("event=amf_persist_write_failed err=%s ues=%d", exc, len(upserts) + len(deletes))
            # kept for the next flush; the stored ceilings stay what they were
            ctx.dirty.update(dirty or ())
            self.ceiling_due |= due
            return 0
        for rec, ue in upserts:
            ue.dl_ceiling = rec.dl_ceiling
        for _, c, ue in ceilings:
            ue.dl_ceiling = c
        if later:
            ctx.dirty.update(later)
        ctx.count("persist_flushes")
        ctx.count("persist_written", len(upserts) + len(ceilings))
        if deletes:
            ctx.count("persist_deleted", len(deletes))
        return len(upserts) + len(deletes) + len(ceilings)

    def reserve(self, ue: UeContext) -> None:
        """5GMM hook before a downlink message is protected when the UE's DL NAS COUNT is near
        its stored ceiling (TS 33.501 §6.4.3.1): below it, the next flush raises the ceiling;
        at it, the new ceiling is committed now, before this COUNT is used."""
        sec = ue.sec
        if sec is None or ue.supi is None or not ue.dl_ceiling:
            return
        if sec.dl_count < ue.dl_ceiling:
            self.ceiling_due.add(ue.supi)
            return
        new = min(sec.dl_count + DL_BLOCK, _COUNT_LIMIT - 1)
        f = self.file
        if f is not None:
            try:
                f.write(ceilings=[(ue.supi, new, sec.ul_count)])
                self.ctx.count("persist_reserve_sync")
                ue.dl_ceiling = new
                return
            except PersistError as exc:
                log.warning("event=amf_persist_write_failed err=%s", exc)
                self.ctx.count("persist_write_failed")
        # nothing could be reserved: the UE is written afresh (ceiling above its live COUNT)
        # by the next flush that succeeds; until then a crash could resume this key at a COUNT
        # already used, which only a disk that refuses writes can bring about (logged)
        log.error("event=amf_persist_reserve_failed dl_count=%d", sec.dl_count)
        self.ctx.count("persist_reserve_failed")
        ue.dl_ceiling = 0
        self.ctx.touch(ue)
