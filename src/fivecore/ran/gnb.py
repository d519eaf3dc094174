"""A simulated gNB: NG Setup and NGAP UE-associated signalling over SCTP, RRC inside the process.

One asyncio task per gNB reads its SCTP association; UEs are plain objects (:class:`RanUe`
wraps a :class:`fivecore.ran.ue.Ue` with its NGAP IDs), so ten thousand UEs cost no tasks.
"Radio" is a function call: the gNB hands a downlink NAS PDU to the UE and sends whatever the
UE answers uplink. The AS security check is real: the KgNB the AMF sends in Initial Context
Setup must equal the one the UE derives (TS 33.501 §6.9.2.1.1), otherwise the gNB fails the
context setup.

A gNB with NG connections to several AMFs (an AMF Set, TS 23.501 §5.21.2) is a
:class:`GnbNode`: one :class:`Gnb` N2 endpoint per AMF, all with the same Global RAN Node ID
and one RAN UE NGAP ID space, as a real gNB runs one NG Setup per AMF (TS 38.413 §8.7.1). Each
UE-associated connection lives on one endpoint (``RanUe.gnb``); a new one goes to the AMF
:func:`choose_amf` picks (TS 23.501 §6.3.5, TS 38.300 §9.2.1 NAS node selection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fivecore.errors import FivecoreError
from fivecore.ran.ue import Ue, UeState
from fivecore.transport import sctp
from fivecore.wire import ngap
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.ngap import NgapPdu
from fivecore.wire.template import TemplateCache

log = logging.getLogger("fivecore.ran.gnb")


class NgSetupFailed(FivecoreError):
    """The AMF answered NG Setup Failure (or nothing)."""

    def __init__(self, cause: Any) -> None:
        super().__init__(f"NG Setup failed: {cause}")
        self.cause = cause
        #: seconds from the failure's Time to Wait IE (TS 38.413 §9.3.1.56), if any
        self.time_to_wait: float | None = None


def _time_to_wait(value: Any) -> float | None:
    """TS 38.413 §9.3.1.56 Time to Wait: "v1s" .. "v60s" -> seconds."""
    if isinstance(value, str) and value.startswith("v") and value.endswith("s"):
        try:
            return float(value[1:-1])
        except ValueError:
            return None
    return None


@dataclass(slots=True)
class GnbConfig:
    """One gNB's identity and what it broadcasts (TS 38.413 §9.2.6.1 NG Setup Request)."""

    gnb_id: int = 1
    gnb_id_bits: int = 22
    name: str = "fivecore-gnb"
    mcc: str = "001"
    mnc: str = "01"
    tac: int = 1
    slices: tuple[tuple[int, int | None], ...] = ((1, None),)
    nci: int = 0x10
    amf_host: str = "127.0.0.5"
    amf_port: int = 38412
    local_host: str | None = None
    #: more local IPv4 addresses for N2 (SCTP multi-homing, RFC 9260 §6.4: listed in the INIT;
    #: the association survives the loss of the ``local_host`` path); userspace SCTP only
    local_addresses: tuple[str, ...] = ()
    paging_drx: str = "v128"

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc


class RanUe:
    """A UE camped on a gNB: its NAS entity plus the NGAP IDs of its current connection."""

    __slots__ = ("ue", "ran_id", "amf_id", "gnb", "kgnb_ok", "ue_ambr", "rfsp", "ids", "t3346_until", "nh", "ncc")

    def __init__(self, ue: Ue, gnb: Gnb) -> None:
        self.ue = ue
        self.gnb = gnb
        self.ran_id: int | None = None
        self.amf_id: int | None = None
        self.kgnb_ok: bool | None = None
        #: set by UE Context Modification (TS 38.413 §8.3.4): (uplink, downlink) bit/s, RFSP
        self.ue_ambr: tuple[int, int] | None = None
        self.rfsp: int | None = None
        #: (AMF UE NGAP ID, RAN UE NGAP ID, their IE values encoded) of this connection
        self.ids: tuple[int, int, bytes, bytes] | None = None
        #: TS 24.501 §5.3.9: monotonic time T3346 (the back-off of a #22 reject) runs out
        self.t3346_until: float | None = None
        #: TS 33.501 §6.9.2.1.1: the UE's NH chain -- the SYNC-input of its next NH (the KgNB
        #: of its AS context while ``ncc`` is 0, then the last NH), checked against the AMF's
        #: {NH, NCC} in each Path Switch Request Acknowledge (fivecore.ran.handover)
        self.nh: bytes | None = None
        self.ncc = 0


UeListener = Callable[[RanUe, UeState, UeState], None]

_UL = ("UplinkNASTransport", "initiating")
#: the N2 handover procedures answered by fivecore.ran.n2_handover
_N2_HANDOVER = frozenset({"HandoverPreparation", "HandoverResourceAllocation", "HandoverCancel"})
#: TS 38.413 §9.3.3.1 / §9.3.3.2: the IE ids of the two NGAP IDs (from the codec's table)
_AMF_ID_IE = ngap.pre_encoded(*_UL, "AMF-UE-NGAP-ID", 0).id
_RAN_ID_IE = ngap.pre_encoded(*_UL, "RAN-UE-NGAP-ID", 0).id


def _encode_with_ids(procedure: str, kind: str, amf_raw: bytes, ran_raw: bytes, ies: dict[str, Any]) -> bytes:
    """A UE-associated NGAP message with the NGAP IDs' values already encoded."""
    return ngap.encode(NgapPdu(procedure, kind, {
        "AMF-UE-NGAP-ID": ngap.RawIe(_AMF_ID_IE, amf_raw), "RAN-UE-NGAP-ID": ngap.RawIe(_RAN_ID_IE, ran_raw), **ies}))


@dataclass
class GnbStats:
    ngap_rx: int = 0
    ngap_tx: int = 0
    #: NGAP messages the gNB could not send because its N2 association was down
    ngap_tx_dropped: int = 0
    #: N2 associations lost after NG Setup (ABORT, peer restart, retransmission limit)
    associations_lost: int = 0
    #: successful re-connections (new association + NG Setup) after a loss
    reconnects: int = 0
    #: UE-associated NG connections dropped because their association was lost
    ues_dropped_on_loss: int = 0
    error_indications_rx: int = 0
    unknown_ue: int = 0
    kgnb_mismatch: int = 0
    ics: int = 0
    releases: int = 0
    #: NG connections released without the AMF (:meth:`Gnb.release_locally`)
    local_releases: int = 0
    last_error_causes: list[Any] = field(default_factory=list)
    #: Xn handovers (fivecore.ran.handover): UEs taken in and handed out, path switches the
    #: AMF refused, Acknowledges whose {NH, NCC} the UE could not match, unreadable transfers
    handovers_in: int = 0
    handovers_out: int = 0
    path_switch_failures: int = 0
    nh_mismatch: int = 0
    path_switch_bad_transfer: int = 0


class Gnb:
    """One simulated gNB (see module docstring)."""

    def __init__(self, cfg: GnbConfig, sctp_config: sctp.SctpConfig | None = None) -> None:
        self.cfg = cfg
        self.sctp_config = sctp_config or sctp.SctpConfig(out_streams=16)
        self.assoc: sctp.SctpAssociation | None = None
        self.ready = False
        self.amf_name: str | None = None
        #: the AMF asked for fewer new signalling connections (NGAP Overload Start)
        self.overloaded = False
        self.connected: dict[int, RanUe] = {}
        self._next_ran_id = 1
        self.stats = GnbStats()
        self.listeners: list[UeListener] = []
        self._reader: asyncio.Task[None] | None = None
        self._setup_fut: asyncio.Future[NgapPdu] | None = None
        self.raw_listeners: list[Callable[[NgapPdu], None]] = []
        #: the user plane (userplane.py): PDU Session Resource Setup items of an Initial
        #: Context Setup Request -> (setup list, failed list, NAS PDUs for the UE)
        self.ics_sessions: Callable[[RanUe, list[Any]], tuple[list[Any], list[Any], list[bytes]]] | None = None
        #: called with ("ul" | "dl", NGAP bytes, stream) for every PDU; for captures and tests
        self.tap: Callable[[str, bytes, int], None] | None = None
        #: after a lost N2 association, reconnect and re-run NG Setup (TS 38.413 §8.7.1) with
        #: exponential backoff from ``reconnect_initial`` to ``reconnect_max`` seconds
        self.reconnect = True
        self.reconnect_initial = 0.5
        self.reconnect_max = 30.0
        #: called with (gnb, reason) when the association is lost (UE contexts are gone)
        self.lost_listeners: list[Callable[[Gnb, str], None]] = []
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        self._drop_logged = False
        #: (plmn, tac, nci) -> this cell's User Location Information, encoded once: it is in
        #: every UE-associated uplink message and only changes with the configuration
        self._uli: tuple[tuple[str, int, int], ngap.RawIe] | None = None
        #: message templates by (message, its constant values, the lengths of the others);
        #: see :meth:`templated`
        self._templates = TemplateCache(limit=512)
        #: the gNB (one or more AMFs) this N2 endpoint belongs to (set by :class:`GnbNode`)
        self.node: GnbNode | None = None
        #: the endpoints sharing this gNB's RAN UE NGAP ID space (TS 38.413 §9.3.3.2: unique
        #: within the NG-RAN node, not per association); None: this endpoint alone
        self._id_space: _RanIdSpace | None = None
        #: RAN UE NGAP ID -> the Path Switch Request answer an Xn handover into this gNB awaits
        self.path_switches: dict[int, asyncio.Future[NgapPdu]] = {}
        #: this endpoint's N3 user plane (fivecore.ran.userplane.GnbUserPlane sets it), if any
        self.user_plane: Any = None
        from fivecore.ran.n2_handover import GnbN2State

        #: N2 handovers through this endpoint (fivecore.ran.n2_handover)
        self.n2 = GnbN2State()

    # --- N2 -----------------------------------------------------------------------------------

    def ng_setup_request(self) -> bytes:
        """TS 38.413 §9.2.6.1."""
        c = self.cfg
        return ngap.encode(NgapPdu("NGSetup", "initiating", {
            "GlobalRANNodeID": ngap.global_gnb_id(c.plmn, c.gnb_id, c.gnb_id_bits),
            "RANNodeName": c.name,
            "SupportedTAList": ngap.supported_ta_list([(c.tac, c.plmn, list(c.slices))]),
            "DefaultPagingDRX": c.paging_drx,
        }))

    async def start(self, timeout: float = 10.0) -> None:
        """Open the association and run NG Setup (TS 38.413 §8.7.1); raises NgSetupFailed.

        Once up, a lost association is re-established in the background (see ``reconnect``).
        """
        self._stopping = False
        await self._connect_and_setup(timeout)

    async def _connect_and_setup(self, timeout: float) -> None:
        """TS 38.412 §7 association, then TS 38.413 §8.7.1 NG Setup on stream 0."""
        c = self.cfg
        # only when multi-homed: wrappers of connect (tests' fault injection) need not know it
        extra = {"local_addresses": list(c.local_addresses)} if c.local_addresses else {}
        self.assoc = await sctp.connect(c.amf_host, c.amf_port, self.sctp_config, local_host=c.local_host,
                                        timeout=timeout, **extra)
        self._drop_logged = False
        loop = asyncio.get_running_loop()
        self._setup_fut = loop.create_future()
        self._reader = asyncio.create_task(self._read_loop(), name=f"gnb-{c.gnb_id}")
        self.send(self.ng_setup_request(), 0)
        try:
            pdu = await asyncio.wait_for(self._setup_fut, timeout)
        except TimeoutError:
            raise NgSetupFailed("no answer") from None
        if pdu.kind != "successful":
            exc = NgSetupFailed(pdu.get("Cause"))
            exc.time_to_wait = _time_to_wait(pdu.get("TimeToWait"))
            raise exc
        self.amf_name = pdu.get("AMFName")
        self._learn_amf(pdu)
        self.ready = True
        log.info("event=ng_setup_ok gnb_id=%d amf=%s", c.gnb_id, self.amf_name)

    def _learn_amf(self, pdu: NgapPdu) -> None:
        """TS 38.413 §9.2.6.2 NG Setup Response: keep the AMF's Served GUAMI List, Relative AMF
        Capacity and PLMN Support List, which NAS node selection (:func:`choose_amf`) uses."""
        try:
            guamis = tuple(ngap.guami_from(i["gUAMI"]) for i in pdu.get("ServedGUAMIList") or ())
            plmns = tuple((ngap.plmn_str(i["pLMNIdentity"]),
                           tuple(ngap.s_nssai_from(s["s-NSSAI"]) for s in i["sliceSupportList"]))
                          for i in pdu.get("PLMNSupportList") or ())
        except (DecodeError, KeyError, TypeError, IndexError) as exc:
            log.info("event=ng_setup_response_bad_ies gnb_id=%d err=%s", self.cfg.gnb_id, exc)
            guamis, plmns = (), ()
        self.amf_served_guamis = guamis
        self.amf_plmn_support = plmns
        cap = pdu.get("RelativeAMFCapacity")
        self.amf_relative_capacity = cap if isinstance(cap, int) else None

    def retry_in_background(self) -> None:
        """Keep trying NG Setup (TS 38.413 §8.7.1) with the reconnect backoff, for an AMF that
        did not answer at start while the gNB's other AMFs did."""
        if self.reconnect and not self._stopping and (self._supervisor is None or self._supervisor.done()):
            self._supervisor = asyncio.create_task(self._reconnect_loop(), name=f"gnb-{self.cfg.gnb_id}-retry")

    async def stop(self) -> None:
        self._stopping = True
        sup = self._supervisor
        if sup is not None and sup is not asyncio.current_task():
            sup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sup
        self._supervisor = None
        if self.assoc is not None:
            self.assoc.close()
            try:
                await asyncio.wait_for(self.assoc.wait_closed(), 2.0)
            except (TimeoutError, sctp.SctpError):
                self.assoc.abort("stop")
        if self._reader is not None:
            self._reader.cancel()
        self.ready = False

    def send(self, data: bytes, stream: int) -> None:
        if self.assoc is None or self.assoc.is_closed:
            # Counted and logged once per loss: a silent drop here hid a stalled N2 before.
            if not self._drop_logged:
                self._drop_logged = True
                log.warning("event=gnb_send_without_association gnb_id=%d reason=%s", self.cfg.gnb_id,
                            self.assoc.close_reason if self.assoc is not None else "not connected")
            self.stats.ngap_tx_dropped += 1
            return
        n = self.assoc.out_streams or 1
        stream = stream % n if n > 1 else 0
        if self.tap is not None:
            self.tap("ul", data, stream)
        try:
            self.assoc.send_nowait(data, stream=stream)
        except sctp.SctpError as exc:  # closing under us: the message is lost, like on a real link
            log.info("event=gnb_send_failed gnb_id=%d err=%s", self.cfg.gnb_id, exc)
            return
        self.stats.ngap_tx += 1

    @property
    def reconnecting(self) -> bool:
        """N2 was lost and the gNB is bringing it back (new association, NG Setup)."""
        return self._supervisor is not None and not self._supervisor.done()

    def _stream(self, ru: RanUe) -> int:
        n = self.assoc.out_streams if self.assoc is not None else 2
        return 1 + (ru.ran_id or 0) % (n - 1) if n > 1 else 0

    async def _read_loop(self) -> None:
        assoc = self.assoc
        assert assoc is not None
        try:
            # The transport hands each message to _on_message as it arrives (one event-loop
            # iteration less per message than recv()); this task waits for the end.
            assoc.set_message_handler(self._on_message)
            await assoc.wait_closed()
        except sctp.SctpError as exc:
            log.info("event=gnb_association_error gnb_id=%d err=%s", self.cfg.gnb_id, exc)
        finally:
            was_ready = self.ready
            self.ready = False
            if self._setup_fut is not None and not self._setup_fut.done():
                self._setup_fut.set_exception(NgSetupFailed("association closed"))
            if was_ready and not self._stopping:
                self._association_lost()

    def _on_message(self, msg: sctp.Message) -> None:
        stream, _ppid, data = msg
        if self.tap is not None:
            self.tap("dl", data, stream)
        try:
            self.on_ngap(data)
        except Exception:  # a bug must not take the association down
            log.exception("event=gnb_internal_error gnb_id=%d", self.cfg.gnb_id)

    def _association_lost(self) -> None:
        """The N2 association ended under an NG-set-up gNB: UE-associated NG connections are
        gone on both sides (TS 23.502 §4.2.6: the AMF moves the UEs to CM-IDLE), so drop them
        here too, then re-run the TS 38.413 §8.7.1 NG Setup on a new association."""
        reason = self.assoc.close_reason if self.assoc is not None else "not connected"
        self.stats.associations_lost += 1
        log.warning("event=gnb_association_lost gnb_id=%d reason=%s ues=%d reconnect=%s",
                    self.cfg.gnb_id, reason, len(self.connected), self.reconnect)
        for ru in list(self.connected.values()):
            self._drop(ru)
            self.stats.ues_dropped_on_loss += 1
        for cb in list(self.lost_listeners):
            try:
                cb(self, reason)
            except Exception:
                log.exception("event=gnb_lost_listener_failed gnb_id=%d", self.cfg.gnb_id)
        if self.reconnect and (self._supervisor is None or self._supervisor.done()):
            self._supervisor = asyncio.create_task(self._reconnect_loop(), name=f"gnb-{self.cfg.gnb_id}-reconnect")

    async def _reconnect_loop(self) -> None:
        """Reconnect with exponential backoff and jitter (so many gNBs do not re-INIT in step);
        an NG Setup Failure's Time to Wait (TS 38.413 §8.7.1.4) is honoured as the next delay."""
        delay = self.reconnect_initial
        attempt = 0
        while not self._stopping:
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            if self._stopping:
                return
            attempt += 1
            old = self.assoc
            if old is not None and not old.is_closed:
                old.abort("reconnecting")
            try:
                await self._connect_and_setup(max(2.0, min(10.0, self.reconnect_max)))
            except NgSetupFailed as exc:
                wait = getattr(exc, "time_to_wait", None)
                log.warning("event=gnb_reconnect_ng_setup_failed gnb_id=%d attempt=%d cause=%s",
                            self.cfg.gnb_id, attempt, exc.cause)
                delay = max(wait or 0.0, min(delay * 2, self.reconnect_max))
                continue
            except (sctp.SctpError, OSError, TimeoutError) as exc:
                log.info("event=gnb_reconnect_failed gnb_id=%d attempt=%d err=%s", self.cfg.gnb_id, attempt, exc)
                delay = min(delay * 2, self.reconnect_max)
                continue
            self.stats.reconnects += 1
            log.warning("event=gnb_reconnected gnb_id=%d attempt=%d amf=%s", self.cfg.gnb_id, attempt,
                        self.amf_name)
            return

    # --- NGAP receive ------------------------------------------------------------------------

    def on_ngap(self, data: bytes) -> None:
        self.stats.ngap_rx += 1
        try:
            pdu = ngap.decode(data)
        except DecodeError as exc:
            log.info("event=gnb_ngap_malformed gnb_id=%d err=%s", self.cfg.gnb_id, exc)
            self.send(ngap.encode(NgapPdu("ErrorIndication", "initiating", {
                "Cause": ngap.cause("protocol", "transfer-syntax-error")})), 0)
            return
        for cb in self.raw_listeners:
            cb(pdu)
        key = (pdu.procedure, pdu.kind)
        if pdu.procedure == "NGSetup":
            if self._setup_fut is not None and not self._setup_fut.done():
                self._setup_fut.set_result(pdu)
        elif key == ("DownlinkNASTransport", "initiating"):
            self._downlink_nas(pdu)
        elif key == ("InitialContextSetup", "initiating"):
            self._initial_context_setup(pdu)
        elif key == ("UEContextRelease", "initiating"):
            self._release_command(pdu)
        elif key == ("ErrorIndication", "initiating"):
            self.stats.error_indications_rx += 1
            self.stats.last_error_causes.append(pdu.get("Cause"))
            del self.stats.last_error_causes[:-50]
            log.info("event=error_indication_rx gnb_id=%d cause=%s amf_ue_ngap_id=%s",
                     self.cfg.gnb_id, pdu.get("Cause"), pdu.get("AMF-UE-NGAP-ID"))
        elif key == ("OverloadStart", "initiating"):
            # TS 38.413 §8.7.6: the RAN holds back new signalling connections (see RanSim)
            self.overloaded = True
            log.info("event=amf_overload_start gnb_id=%d", self.cfg.gnb_id)
        elif key == ("OverloadStop", "initiating"):
            self.overloaded = False
        elif key == ("NGReset", "initiating"):
            for ru in list(self.connected.values()):
                self._drop(ru)
            self.send(ngap.encode(NgapPdu("NGReset", "successful", {})), 0)
        elif key == ("UEContextModification", "initiating"):
            self._ue_context_modification(pdu)
        elif key == ("AMFConfigurationUpdate", "initiating"):
            self._amf_configuration_update(pdu)
        elif pdu.procedure == "PathSwitchRequest" and pdu.kind != "initiating":
            # TS 38.413 §8.4.4: the answer to this gNB's Path Switch Request, for the
            # handover waiting on it (fivecore.ran.handover)
            ran_id = pdu.get("RAN-UE-NGAP-ID")
            fut = self.path_switches.get(ran_id) if isinstance(ran_id, int) else None
            if fut is not None and not fut.done():
                fut.set_result(pdu)
        elif pdu.procedure in _N2_HANDOVER:
            # TS 38.413 §8.4.1, §8.4.2, §8.4.5 (fivecore.ran.n2_handover)
            from fivecore.ran.n2_handover import on_gnb_pdu

            on_gnb_pdu(self, pdu)
        elif pdu.procedure == "RANConfigurationUpdate" and pdu.kind != "initiating":
            fut = self._ran_update_fut
            if fut is not None and not fut.done():
                fut.set_result(pdu)

    def _find(self, pdu: NgapPdu) -> RanUe | None:
        ran_id = pdu.get("RAN-UE-NGAP-ID")
        ru = self.connected.get(ran_id) if isinstance(ran_id, int) else None
        if ru is None:
            self.stats.unknown_ue += 1
            amf_id = pdu.get("AMF-UE-NGAP-ID")
            ies: dict[str, Any] = {}
            if isinstance(amf_id, int):
                ies["AMF-UE-NGAP-ID"] = amf_id
            if isinstance(ran_id, int):
                ies["RAN-UE-NGAP-ID"] = ran_id
            ies["Cause"] = ngap.cause("radioNetwork", "unknown-local-UE-NGAP-ID")
            self.send(ngap.encode(NgapPdu("ErrorIndication", "initiating", ies)), 0)
            return None
        amf_id = pdu.get("AMF-UE-NGAP-ID")
        if isinstance(amf_id, int):
            ru.amf_id = amf_id
        return ru

    def _deliver(self, ru: RanUe, nas_pdu: bytes) -> None:
        """Simulated RRC DLInformationTransfer -> UE -> ULInformationTransfer."""
        ue = ru.ue
        before = ue.state
        ups = ue.on_downlink(nas_pdu)
        for up in ups:
            self.uplink_nas(ru, up)
        if ue.state != before:
            for cb in self.listeners:
                cb(ru, before, ue.state)

    def _downlink_nas(self, pdu: NgapPdu) -> None:
        """TS 38.413 §8.6.2."""
        ru = self._find(pdu)
        if ru is not None:
            self._deliver(ru, pdu["NAS-PDU"])

    def _initial_context_setup(self, pdu: NgapPdu) -> None:
        """TS 38.413 §8.3.1: check KgNB against the UE's own derivation, then answer."""
        ru = self._find(pdu)
        if ru is None:
            return
        self.stats.ics += 1
        key = pdu.get("SecurityKey")
        expected = ru.ue.kgnb()
        got = key[0].to_bytes(32, "big") if isinstance(key, tuple) else None
        ru.kgnb_ok = expected is not None and got == expected
        ru.nh, ru.ncc = expected, 0  # a new AS context: a new NH chain
        ids = {"AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id}
        if not ru.kgnb_ok:
            # AS security could not be activated: the UE and the AMF disagree on KgNB
            self.stats.kgnb_mismatch += 1
            log.info("event=kgnb_mismatch gnb_id=%d ran_ue_ngap_id=%s", self.cfg.gnb_id, ru.ran_id)
            self.send(ngap.encode(NgapPdu("InitialContextSetup", "unsuccessful", {
                **ids, "Cause": ngap.cause("radioNetwork", "encryption-and-or-integrity-protection-algorithms-not-supported")})),
                self._stream(ru))
            return
        res: dict[str, Any] = dict(ids)
        nas_pdus: list[bytes] = []
        items = pdu.get("PDUSessionResourceSetupListCxtReq")
        if items and self.ics_sessions is not None:
            # TS 38.413 §8.3.1.2: DRBs and N3 tunnels for the listed PDU sessions come up with
            # the context (the user plane of a Service Request, TS 23.502 §4.2.3.2 step 12)
            try:
                ok, failed, nas_pdus = self.ics_sessions(ru, items)
            except (DecodeError, EncodeError, KeyError, TypeError, ValueError) as exc:
                log.info("event=gnb_ics_sessions_bad gnb_id=%d err=%s", self.cfg.gnb_id, exc)
                ok, failed = [], []
            if ok:
                res["PDUSessionResourceSetupListCxtRes"] = ok
            if failed:
                res["PDUSessionResourceFailedToSetupListCxtRes"] = failed
        if len(res) == 2 and ru.amf_id is not None and ru.ran_id is not None:
            # no PDU sessions with the context (a registration): the IDs are all it carries
            amf_raw, ran_raw = self.encoded_ids(ru.amf_id, ru.ran_id, ru)
            out = self.templated(("InitialContextSetupResponse",), (amf_raw, ran_raw),
                                 lambda a, r: _encode_with_ids("InitialContextSetup", "successful", a, r, {}))
        else:
            out = ngap.encode(NgapPdu("InitialContextSetup", "successful", res))
        self.send(out, self._stream(ru))
        nas = pdu.get("NAS-PDU")
        if nas:
            self._deliver(ru, nas)
        for n in nas_pdus:
            self._deliver(ru, n)

    # --- UE Context Modification, AMF / RAN Configuration Update (TS 38.413 §8.3.4, §8.7.2-3) -

    #: what the AMF told this gNB in AMF Configuration Update (class defaults until then)
    amf_relative_capacity: int | None = None
    amf_served_guamis: tuple[tuple[str, int, int, int], ...] = ()
    amf_plmn_support: tuple[tuple[str, tuple[tuple[int, int | None], ...]], ...] = ()
    amf_config_updates = 0
    ue_context_modifications = 0
    _ran_update_fut: asyncio.Future[NgapPdu] | None = None

    def _ue_context_modification(self, pdu: NgapPdu) -> None:
        """TS 38.413 §8.3.4.2: apply a new KgNB (checked against the UE's own derivation, as
        for Initial Context Setup), UE-AMBR and RFSP index; Response, or Failure (§8.3.4.3)."""
        ru = self._find(pdu)
        if ru is None:
            return
        self.ue_context_modifications += 1
        ids = {"AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id}
        key = pdu.get("SecurityKey")
        if key is not None:
            got = key[0].to_bytes(32, "big") if isinstance(key, tuple) else None
            if got is None or got != ru.ue.kgnb():
                self.stats.kgnb_mismatch += 1
                ru.kgnb_ok = False
                log.info("event=ucm_kgnb_mismatch gnb_id=%d ran_ue_ngap_id=%s", self.cfg.gnb_id, ru.ran_id)
                self.send(ngap.encode(NgapPdu("UEContextModification", "unsuccessful", {
                    **ids, "Cause": ngap.cause("radioNetwork", "unspecified")})), self._stream(ru))
                return
            ru.kgnb_ok = True
            ru.nh, ru.ncc = got, 0  # TS 33.501 §6.9.4: a fresh KgNB starts a new NH chain
        ambr = pdu.get("UEAggregateMaximumBitRate")
        if isinstance(ambr, dict):
            ru.ue_ambr = (ambr["uEAggregateMaximumBitRateUL"], ambr["uEAggregateMaximumBitRateDL"])
        rfsp = pdu.get("IndexToRFSP")
        if isinstance(rfsp, int):
            ru.rfsp = rfsp
        self.send(ngap.encode(NgapPdu("UEContextModification", "successful", ids)), self._stream(ru))

    def _amf_configuration_update(self, pdu: NgapPdu) -> None:
        """TS 38.413 §8.7.3.2: store the AMF's new name, GUAMIs, capacity and PLMN support and
        acknowledge; a PLMN Support List without this gNB's PLMN is refused (§8.7.3.3)."""
        try:
            plmns = tuple((ngap.plmn_str(i["pLMNIdentity"]),
                           tuple(ngap.s_nssai_from(s["s-NSSAI"]) for s in i["sliceSupportList"]))
                          for i in pdu.get("PLMNSupportList") or ())
            guamis = tuple(ngap.guami_from(i["gUAMI"]) for i in pdu.get("ServedGUAMIList") or ())
        except (DecodeError, KeyError, TypeError) as exc:
            log.info("event=amf_config_update_bad gnb_id=%d err=%s", self.cfg.gnb_id, exc)
            plmns, guamis = (), ()
            bad = True
        else:
            bad = False
        if bad or (plmns and not any(p == self.cfg.plmn for p, _ in plmns)):
            self.send(ngap.encode(NgapPdu("AMFConfigurationUpdate", "unsuccessful", {
                "Cause": ngap.cause("misc", "unknown-PLMN-or-SNPN"), "TimeToWait": "v10s"})), 0)
            return
        name = pdu.get("AMFName")
        if isinstance(name, str):
            self.amf_name = name
        cap = pdu.get("RelativeAMFCapacity")
        if isinstance(cap, int):
            self.amf_relative_capacity = cap
        if guamis:
            self.amf_served_guamis = guamis
        if plmns:
            self.amf_plmn_support = plmns
        self.amf_config_updates += 1
        log.info("event=amf_configuration_update gnb_id=%d amf=%s", self.cfg.gnb_id, self.amf_name)
        self.send(ngap.encode(NgapPdu("AMFConfigurationUpdate", "successful", {})), 0)

    async def ran_configuration_update(
        self,
        *,
        name: str | None = None,
        tac: int | None = None,
        slices: tuple[tuple[int, int | None], ...] | None = None,
        timeout: float = 5.0,
    ) -> NgapPdu:
        """TS 38.413 §8.7.2.2: tell the AMF this gNB's new name / TA / slices; returns the
        Acknowledge or Failure. The new values become this gNB's configuration only when
        acknowledged (§8.7.2.3: on Failure the old ones stay)."""
        c = self.cfg
        ies: dict[str, Any] = {}
        if name is not None:
            ies["RANNodeName"] = name
        if tac is not None or slices is not None:
            ies["SupportedTAList"] = ngap.supported_ta_list(
                [(c.tac if tac is None else tac, c.plmn, list(c.slices if slices is None else slices))])
        fut: asyncio.Future[NgapPdu] = asyncio.get_running_loop().create_future()
        self._ran_update_fut = fut
        self.send(ngap.encode(NgapPdu("RANConfigurationUpdate", "initiating", ies)), 0)
        try:
            answer = await asyncio.wait_for(fut, timeout)
        finally:
            self._ran_update_fut = None
        if answer.kind == "successful":
            if name is not None:
                c.name = name
            if tac is not None:
                c.tac = tac
            if slices is not None:
                c.slices = slices
        return answer

    def _release_command(self, pdu: NgapPdu) -> None:
        """TS 38.413 §8.3.3: RRC release, then UE Context Release Complete."""
        alt, ids = pdu["UE-NGAP-IDs"]
        if alt == "uE-NGAP-ID-pair":
            ran_id = ids["rAN-UE-NGAP-ID"]
            amf_id = ids["aMF-UE-NGAP-ID"]
            ru = self.connected.get(ran_id)
        else:
            amf_id = ids
            ru = next((r for r in self.connected.values() if r.amf_id == amf_id), None)
            ran_id = ru.ran_id if ru is not None else None
        if ru is None:
            self.stats.unknown_ue += 1
            ies: dict[str, Any] = {"AMF-UE-NGAP-ID": amf_id}
            if ran_id is not None:
                ies["RAN-UE-NGAP-ID"] = ran_id
            ies["Cause"] = ngap.cause("radioNetwork", "unknown-local-UE-NGAP-ID")
            self.send(ngap.encode(NgapPdu("ErrorIndication", "initiating", ies)), 0)
            return
        self.stats.releases += 1
        stream = self._stream(ru)
        if ru.gnb is not self:
            # the connection of an N2 handover the UE left (source) or never used (target,
            # cancelled): only this gNB's entry goes, the UE stays where it is
            for k in [k for k, r in self.connected.items() if r is ru]:
                del self.connected[k]
        else:
            self._drop(ru)
        self.send(ngap.encode(NgapPdu("UEContextRelease", "successful", {
            "AMF-UE-NGAP-ID": amf_id, "RAN-UE-NGAP-ID": ran_id})), stream)

    def release_locally(self, ru: RanUe) -> None:
        """Release ``ru``'s RRC connection and forget its NG connection without signalling
        to the AMF: the local release of a UE-associated logical NG connection the AMF no
        longer knows (TS 38.413 §8.3.3 / §10.6, after an Error Indication with cause
        "unknown local UE NGAP ID" naming it). The UE goes 5GMM-IDLE (its next NAS message
        starts a new connection, e.g. a Service Request); its N3 tunnels are the user plane's
        to drop (:meth:`fivecore.ran.userplane.GnbUserPlane.drop_ue`). Nothing happens for
        a UE this gNB does not serve."""
        if ru.gnb is self and ru.ran_id is not None and self.connected.get(ru.ran_id) is ru:
            self.stats.local_releases += 1
            self._drop(ru)

    def _drop(self, ru: RanUe) -> None:
        if ru.ran_id is not None:
            self.connected.pop(ru.ran_id, None)
        ru.ran_id = None
        ru.amf_id = None
        ru.ue.connected = False

    # --- UE side entry points ----------------------------------------------------------------------

    def _user_location(self) -> ngap.RawIe:
        """TS 38.413 §9.3.1.16 User Location Information of this cell (NR CGI and TAI)."""
        c = self.cfg
        key = (c.plmn, c.tac, c.nci)
        cached = self._uli
        if cached is None or cached[0] != key:
            cached = self._uli = (key, ngap.pre_encoded(
                "UplinkNASTransport", "initiating", "UserLocationInformation", ngap.user_location_nr(*key)))
        return cached[1]

    def rrc_connect(self, ru: RanUe) -> None:
        """RRC Setup (simulated): the UE gets a RAN UE NGAP ID on this gNB."""
        if ru.ran_id is not None:
            return
        ran_id = self.take_ran_id()
        ru.ran_id = ran_id
        ru.amf_id = None
        ru.gnb = self
        ru.ue.connected = True
        self.connected[ran_id] = ru

    def take_ran_id(self) -> int:
        """A RAN UE NGAP ID not in use on this gNB (TS 38.413 §9.3.3.2: 0..2^32-1, unique
        within the NG-RAN node)."""
        space = self._id_space
        if space is not None:
            return space.take()
        ran_id = self._next_ran_id
        # after the wrap skip IDs of connections still open, or a second UE would overwrite
        # the first one's entry
        while ran_id in self.connected:
            ran_id = (ran_id + 1) & 0xFFFFFFFF
        self._next_ran_id = (ran_id + 1) & 0xFFFFFFFF
        return ran_id

    async def path_switch(self, ran_id: int, source_amf_id: int, items: list[dict[str, Any]],
                          nea: tuple[int, ...], nia: tuple[int, ...], timeout: float = 10.0) -> NgapPdu:
        """TS 38.413 §8.4.4.2: PATH SWITCH REQUEST for a UE this gNB took over Xn (its new
        ``ran_id``; ``source_amf_id`` the AMF UE NGAP ID the source gNB knew); the answer
        (Acknowledge or Failure). Raises TimeoutError when none comes."""
        fut: asyncio.Future[NgapPdu] = asyncio.get_running_loop().create_future()
        self.path_switches[ran_id] = fut
        try:
            self.send(self.path_switch_request(ran_id, source_amf_id, items, nea, nia), self._stream_of(ran_id))
            return await asyncio.wait_for(fut, timeout)
        finally:
            if self.path_switches.get(ran_id) is fut:
                del self.path_switches[ran_id]

    def path_switch_request(self, ran_id: int, source_amf_id: int, items: list[dict[str, Any]],
                            nea: tuple[int, ...], nia: tuple[int, ...]) -> bytes:
        """TS 38.413 §9.2.3.8 PATH SWITCH REQUEST from this gNB's cell (``items``: PDU Session
        Resource To Be Switched in Downlink items with their Path Switch Request Transfers)."""
        return ngap.encode(NgapPdu("PathSwitchRequest", "initiating", {
            "RAN-UE-NGAP-ID": ran_id,
            "SourceAMF-UE-NGAP-ID": source_amf_id,
            "UserLocationInformation": self._user_location(),
            "UESecurityCapabilities": ngap.ue_security_capabilities(nea, nia),
            "PDUSessionResourceToBeSwitchedDLList": items,
        }))

    def _stream_of(self, ran_id: int) -> int:
        n = self.assoc.out_streams if self.assoc is not None else 2
        return 1 + ran_id % (n - 1) if n > 1 else 0

    def initial_nas(self, ru: RanUe, nas_pdu: bytes, cause: str = "mo-Signalling") -> None:
        """TS 38.413 §8.6.1 Initial UE Message (5G-S-TMSI included when the UE has a GUTI)."""
        self.rrc_connect(ru)
        ies: dict[str, Any] = {
            "RAN-UE-NGAP-ID": ru.ran_id,
            "NAS-PDU": nas_pdu,
            "UserLocationInformation": self._user_location(),
            "RRCEstablishmentCause": cause,
        }
        g = ru.ue.guti
        if g is not None:
            ies["FiveG-S-TMSI"] = ngap.five_g_s_tmsi(g.amf_set_id, g.amf_pointer, g.tmsi)
            ies["UEContextRequest"] = "requested"
            self.send(ngap.encode(NgapPdu("InitialUEMessage", "initiating", ies)), self._stream(ru))
            return
        # a registration with a SUCI: only the RAN UE NGAP ID and the NAS-PDU vary by UE
        uli = ies["UserLocationInformation"]
        ran_raw = ngap.pre_encoded("InitialUEMessage", "initiating", "RAN-UE-NGAP-ID", ru.ran_id).data

        def build(r: bytes, n: bytes) -> bytes:
            return ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
                "RAN-UE-NGAP-ID": ngap.RawIe(_RAN_ID_IE, r), "NAS-PDU": n, "UserLocationInformation": uli,
                "RRCEstablishmentCause": cause, "UEContextRequest": "requested"}))

        self.send(self.templated(("InitialUEMessage", uli, cause), (ran_raw, nas_pdu), build), self._stream(ru))

    def uplink_nas(self, ru: RanUe, nas_pdu: bytes) -> None:
        """TS 38.413 §8.6.3 Uplink NAS Transport."""
        if ru.ran_id is None or ru.amf_id is None:
            return
        self.send(self._uplink_nas_transport(ru.amf_id, ru.ran_id, nas_pdu, ru), self._stream(ru))

    def _uplink_nas_transport(self, amf_id: int, ran_id: int, nas_pdu: bytes, ru: RanUe | None = None) -> bytes:
        """The Uplink NAS Transport octets (TS 38.413 §9.2.5.3): a UE's messages differ only
        in the two NGAP IDs and the NAS-PDU, whose length is the same for every UE of a
        profile at each step, so they come from a template (:meth:`templated`)."""
        amf_raw, ran_raw = self.encoded_ids(amf_id, ran_id, ru)
        uli = self._user_location()
        return self.templated(("UplinkNASTransport", uli), (amf_raw, ran_raw, nas_pdu),
                              lambda a, r, n: _encode_with_ids(*_UL, a, r, {"NAS-PDU": n, "UserLocationInformation": uli}))

    def encoded_ids(self, amf_id: int, ran_id: int, ru: RanUe | None = None) -> tuple[bytes, bytes]:
        """The AMF and RAN UE NGAP ID IE values (TS 38.413 §9.3.3.1-2) encoded, kept on the
        connection (``ru.ids``) while they stay the same."""
        ids = ru.ids if ru is not None else None
        if ids is None or ids[0] != amf_id or ids[1] != ran_id:
            ids = (amf_id, ran_id, ngap.pre_encoded(*_UL, "AMF-UE-NGAP-ID", amf_id).data,
                   ngap.pre_encoded(*_UL, "RAN-UE-NGAP-ID", ran_id).data)
            if ru is not None:
                ru.ids = ids
        return ids[2], ids[3]

    def templated(self, key: tuple[Any, ...], values: tuple[bytes, ...], build: Callable[..., bytes]) -> bytes:
        """``build(*values)``, the encoding of a message whose other contents ``key`` fixes,
        from an encoder-verified octet template per (``key``, lengths of ``values``) when the
        encoder's probes allow one (else ``build`` itself); see :mod:`fivecore.wire.template`."""
        return self._templates.join(key, values, build)

    def release_request(self, ru: RanUe, cause: tuple[str, str] = ("radioNetwork", "user-inactivity")) -> None:
        """TS 38.413 §8.3.2: gNB-initiated UE Context Release Request."""
        if ru.ran_id is None or ru.amf_id is None:
            return
        self.send(ngap.encode(NgapPdu("UEContextReleaseRequest", "initiating", {
            "AMF-UE-NGAP-ID": ru.amf_id, "RAN-UE-NGAP-ID": ru.ran_id, "Cause": ngap.cause(*cause)})),
            self._stream(ru))

    def register(self, ru: RanUe, follow_on: bool = False, reg_type: int = 1) -> None:
        """TS 24.501 §5.5.1: a Registration Request (``reg_type`` 1 initial, 2 mobility
        updating, 3 periodic updating; §9.11.3.7)."""
        before = ru.ue.state
        pdu = ru.ue.register(reg_type, follow_on)
        if ru.ran_id is not None and ru.amf_id is not None:
            self.uplink_nas(ru, pdu)  # still RRC-connected: the existing NG connection carries it
        else:
            self.initial_nas(ru, pdu)
        self._notify(ru, before)

    def deregister(self, ru: RanUe, switch_off: bool = False) -> None:
        before = ru.ue.state
        pdu = ru.ue.deregister(switch_off)
        if ru.ran_id is not None and ru.amf_id is not None:
            self.uplink_nas(ru, pdu)
        else:
            self.initial_nas(ru, pdu)
        self._notify(ru, before)

    def service_request(self, ru: RanUe, service_type: int = 0, uplink_data: frozenset[int] | None = None) -> None:
        """TS 24.501 §5.6.1.2: service type 0 signalling, 1 data, 2 mobile terminated (paging)."""
        before = ru.ue.state
        cause = "mt-Access" if service_type == 2 else "mo-Data"
        self.initial_nas(ru, ru.ue.service_request(service_type, uplink_data), cause)
        self._notify(ru, before)

    def _notify(self, ru: RanUe, before: UeState) -> None:
        if ru.ue.state != before:
            for cb in self.listeners:
                cb(ru, before, ru.ue.state)


class _RanIdSpace:
    """The RAN UE NGAP IDs of one gNB, shared by its N2 endpoints (TS 38.413 §9.3.3.2)."""

    __slots__ = ("members", "next_id")

    def __init__(self, members: Sequence[Gnb]) -> None:
        self.members = tuple(members)
        self.next_id = 1

    def take(self) -> int:
        ran_id = self.next_id
        # after the 2^32 wrap skip IDs still held by an open connection on any endpoint
        while any(ran_id in g.connected for g in self.members):
            ran_id = (ran_id + 1) & 0xFFFFFFFF
        self.next_id = (ran_id + 1) & 0xFFFFFFFF
        return ran_id


def guami_of(guti: Any) -> tuple[str, int, int, int]:
    """The GUAMI inside a 5G-GUTI (TS 23.003 §2.10.1: PLMN, AMF Region, AMF Set, AMF Pointer)."""
    return (guti.plmn, guti.amf_region_id, guti.amf_set_id, guti.amf_pointer)


def choose_amf(links: Sequence[Gnb], guti: Any, credit: dict[int, int]) -> Gnb:
    """TS 23.501 §6.3.5 / TS 38.300 §9.2.1 NAS node selection for a new UE-associated NG
    connection, among the N2 endpoints (one per AMF) of one gNB.

    A UE with a 5G-GUTI goes to the AMF whose Served GUAMI List (NG Setup Response, or AMF
    Configuration Update) holds the GUTI's GUAMI; if that AMF's association is down, to
    another AMF of the same AMF Set (TS 23.501 §5.21.2.1), chosen by weight. A UE without one
    (initial registration with a SUCI) goes to an AMF chosen by Relative AMF Capacity
    (TS 38.413 §9.3.1.10) by smooth weighted round-robin; ``credit`` (id(endpoint) -> credit)
    is its running state, so equal capacities alternate. Endpoints whose association is down
    are skipped, and AMFs that sent Overload Start (TS 38.413 §8.7.6) are avoided while
    another one is free. With no endpoint up the GUTI's own AMF (or the first) is returned, so
    the caller sees a down link (held, or counted as dropped) exactly as with one AMF.
    """
    if len(links) == 1:
        return links[0]
    up = [g for g in links if g.ready]
    guami = guami_of(guti) if guti is not None else None
    if guami is not None:
        for g in up:
            if guami in g.amf_served_guamis:
                return g
        same_set = [g for g in up if any(x[:3] == guami[:3] for x in g.amf_served_guamis)]
        if same_set:
            up = same_set
    if not up:
        if guami is not None:
            for g in links:
                if guami in g.amf_served_guamis:
                    return g
        return links[0]
    pool = [g for g in up if not g.overloaded] or up
    weights = [g.amf_relative_capacity if g.amf_relative_capacity is not None else 1 for g in pool]
    if not any(weights):
        weights = [1] * len(pool)  # every AMF at capacity 0: share equally rather than refuse
    total = sum(weights)
    best: Gnb | None = None
    best_credit = 0
    for g, w in zip(pool, weights, strict=True):
        c = credit.get(id(g), 0) + w
        credit[id(g)] = c
        if best is None or c > best_credit:
            best, best_credit = g, c
    assert best is not None
    credit[id(best)] = best_credit - total
    return best


class GnbNode:
    """One simulated gNB with an NG connection per AMF (TS 23.501 §5.21.2, TS 38.413 §8.7.1).

    The endpoints (``links``) share the Global RAN Node ID, the cell and the RAN UE NGAP ID
    space; a UE camps on the node and its current NG connection is on ``RanUe.gnb``. With one
    AMF the node is a thin shell around its one :class:`Gnb` and nothing changes on the wire.
    """

    def __init__(self, links: Sequence[Gnb]) -> None:
        if not links:
            raise FivecoreError("a gNB needs at least one AMF")
        self.links = list(links)
        #: smooth weighted round-robin state of :func:`choose_amf`
        self._credit: dict[int, int] = {}
        space = _RanIdSpace(self.links) if len(self.links) > 1 else None
        for g in self.links:
            g.node = self
            g._id_space = space

    @property
    def cfg(self) -> GnbConfig:
        return self.links[0].cfg

    @property
    def ready(self) -> bool:
        """NG-set-up with at least one AMF: the cell can take UEs."""
        return any(g.ready for g in self.links)

    def choose(self, ru: RanUe, peek: bool = False) -> Gnb:
        """The endpoint for ``ru``'s next NAS message: its open connection's, else a new
        choice (:func:`choose_amf`); ``peek`` looks without moving the round-robin on."""
        if ru.ran_id is not None and ru.gnb.node is self:
            return ru.gnb
        return choose_amf(self.links, ru.ue.guti, dict(self._credit) if peek else self._credit)

    async def start(self, timeout: float = 10.0) -> None:
        """NG Setup with every AMF (TS 38.413 §8.7.1). With one AMF its failure is raised; with
        several the gNB is up once one AMF accepted it and the others are retried in the
        background (raised only when all fail)."""
        if len(self.links) == 1:
            await self.links[0].start(timeout)
            return
        results = await asyncio.gather(*(g.start(timeout) for g in self.links), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for r in errors:
            if not isinstance(r, Exception):
                raise r
        if len(errors) == len(self.links):
            raise errors[0]
        for g, r in zip(self.links, results, strict=True):
            if isinstance(r, Exception):
                log.warning("event=gnb_amf_unavailable gnb_id=%d amf=%s:%d err=%s", g.cfg.gnb_id,
                            g.cfg.amf_host, g.cfg.amf_port, r)
                g.retry_in_background()

    async def stop(self) -> None:
        await asyncio.gather(*(g.stop() for g in self.links), return_exceptions=True)
