"""The AMF process: N2 (NGAP over SCTP), N1 (5GMM) and its SBI consumers, wired together.

``AmfApp(config).start()`` listens for gNBs on ``amf.ngap`` (127.0.0.5:38412 by default),
serves its SBI on ``amf.sbi`` (127.0.0.5:7777) and registers with the NRF like every NF.
The protocol cores (:mod:`.ngap_handler`, :mod:`.gmm`) are sans-I/O; this module only moves
bytes, runs SBI calls as short-lived tasks and keeps the procedure timers (one
``call_later`` handle per *running* procedure, none for an idle UE).
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
import uuid
from typing import Any

from fivecore.config import Config
from fivecore.nf.amf.clients import AmfSbi
from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import Gmm, GmmConfig, SbiCall, SetTimer, StopTimer
from fivecore.nf.amf.ngap_handler import (
    AmfNgap,
    CloseAssociation,
    GnbPolicy,
    NgapConfig,
    NgapSend,
    ProbeAssociation,
)
from fivecore.nf.common.app import NfApp
from fivecore.nf.common.client import LocalRegistry, run_until_wait
from fivecore.runtime import install_fast_loop
from fivecore.transport import sctp
from fivecore.transport.http2 import (
    Http2Client,
    HttpError,
    Request,
    Response,
    Router,
    json_response,
)
from fivecore.wire.errors import EncodeError

log = logging.getLogger("fivecore.amf")

NGAP_PPID = 60
#: the bound on the whole probe of an association whose gNB ID came back elsewhere: with
#: RTO.Min 1 s its HEARTBEATs go out at 0, 1, 3 and 7 s, each given twice the last one's wait
#: (RFC 9260 §6.3.3 E2), so a live but loaded node has four chances over 15 s and a dead one's
#: UEs wait at most that long before they go CM-IDLE
PROBE_DEADLINE = 15.0


def gmm_config(config: Config) -> GmmConfig:
    a = config.amf
    return GmmConfig(
        mcc=config.plmn.mcc,
        mnc=config.plmn.mnc,
        region_id=a.guami.region_id,
        set_id=a.guami.set_id,
        pointer=a.guami.pointer,
        tacs=tuple(a.tacs),
        slices=tuple(s.as_tuple() for s in a.slices),
        integrity_order=a.security.integrity_ids(),
        ciphering_order=a.security.ciphering_ids(),
        t3512=a.timers.t3512,
        t3550=a.timers.t3550,
        t3560=a.timers.t3560,
        t3570=a.timers.t3570,
        t3522=a.timers.t3522,
        t3346=a.timers.t3346,
        max_ue_contexts=a.max_ue_contexts,
        ue_setup_timeout=a.ue_setup_timeout,
        mobile_reachable=a.timers.mobile_reachable,
        implicit_deregistration=a.timers.implicit_deregistration,
    )


def ngap_config(config: Config) -> NgapConfig:
    a = config.amf
    return NgapConfig(
        amf_name=a.amf_name,
        plmn=config.plmn.mcc + config.plmn.mnc,
        region_id=a.guami.region_id,
        set_id=a.guami.set_id,
        pointer=a.guami.pointer,
        tacs=tuple(a.tacs),
        slices=tuple(s.as_tuple() for s in a.slices),
        relative_capacity=a.relative_capacity,
        max_ues_per_gnb=a.max_ues_per_gnb,
    )


class AmfApp(NfApp):
    """One AMF instance (TS 23.501 §6.2.1)."""

    nf_type = "AMF"
    section = "amf"
    services: list[tuple[str, str]] = []

    def __init__(
        self,
        config: Config,
        *,
        local: LocalRegistry | None = None,
        http: Http2Client | None = None,
        sctp_config: sctp.SctpConfig | None = None,
        gnb_policy: GnbPolicy | None = None,
    ) -> None:
        a = config.amf
        if a.persist and a.nf_instance_id is None:
            # the restarted AMF is the instance its stored UEs' UDM registrations name
            from fivecore.nf.amf.persist import stored_instance_id

            a = a.model_copy(update={"nf_instance_id": stored_instance_id(config) or str(uuid.uuid4())})
            config = config.model_copy(update={"amf": a})
        super().__init__(config, local=local, http=http)
        self.gmm = Gmm(gmm_config(config))
        self.gmm.cfg.amf_instance_id = self.instance_id
        self.trust: Any = None
        if gnb_policy is None and a.trust_policy is not None:
            self.trust = _Trust(config)
            gnb_policy = self.trust.gnb_policy
            self.gmm.observer = self.trust.observe
            self.gmm.restrictions = self.trust.gnb_policy.profile_for
        self.ngap = AmfNgap(ngap_config(config), self.gmm, gnb_policy)
        amf_id = f"{a.guami.region_id:02x}{(a.guami.set_id << 6) | a.guami.pointer:04x}"
        self.sbi = AmfSbi(
            self.client,
            amf_instance_id=self.instance_id,
            mcc=config.plmn.mcc,
            mnc=config.plmn.mnc,
            amf_id_hex=amf_id,
            callback_uri=a.sbi.uri,
        )
        self.sctp_config = sctp_config or sctp.SctpConfig(rx_batch=config.amf.ngap.rx_batch_ms / 1000)
        self.sctp_server: sctp.SctpServer | None = None
        self._assocs: dict[int, sctp.SctpAssociation] = {}
        self._next_assoc = 1
        self._timers: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        #: SBI calls scheduled (call_soon) or in their first step: they count as waiting too
        self._starting = 0
        self._stopped = False
        #: the loop the AMF runs in, from on_start: asyncio.get_running_loop() costs a getpid()
        #: system call each time (fork detection), and _execute needs it for every timer
        self._loop: asyncio.AbstractEventLoop | None = None
        self.overloaded = False
        #: (amf.overload_threshold, amf.overload_loop_lag_ms in seconds), see _check_overload
        self._overload_limits = (a.overload_threshold, a.overload_loop_lag_ms / 1000.0)
        #: smoothed event-loop lag in seconds (see _lag_loop)
        self.loop_lag = 0.0
        self.started_at = time.monotonic()
        # issue 7: PDU session relay (N1 SM, N2 SM, N1N2 transfer)
        from fivecore.nf.amf import sessions

        sessions.attach(self)
        # Xn handover: PATH SWITCH REQUEST (TS 38.413 §8.4.4, TS 23.502 §4.9.1.2.2)
        from fivecore.nf.amf import handover

        handover.attach(self)
        # N2 handover (TS 38.413 §8.4.1-8.4.3, §8.4.5, TS 23.502 §4.9.1.3)
        from fivecore.nf.amf import n2_handover

        n2_handover.attach(self)
        # UE contexts survive a restart (fivecore.nf.amf.persist); no disk access before on_start
        self.persistence: Any = None
        if a.persist:
            from fivecore.nf.amf.persist import AmfPersistence

            self.persistence = AmfPersistence.for_app(self)

    # --- NfApp hooks ------------------------------------------------------------------------

    def static_routes(self) -> dict[str, str]:
        return dict(self.config.amf.routes)

    def extra_profile(self) -> dict[str, Any]:
        a = self.config.amf
        plmn = {"mcc": self.config.plmn.mcc, "mnc": self.config.plmn.mnc}
        return {
            "amfInfo": {
                "amfSetId": f"{a.guami.set_id:03x}",
                "amfRegionId": f"{a.guami.region_id:02x}",
                "guamiList": [{"plmnId": plmn, "amfId": f"{a.guami.region_id:02x}{(a.guami.set_id << 6) | a.guami.pointer:04x}"}],
                "taiList": [{"plmnId": plmn, "tac": f"{t:06x}"} for t in a.tacs],
            },
            "sNssais": [{"sst": s.sst, **({"sd": s.sd.lower()} if s.sd else {})} for s in a.slices],
        }

    def build_router(self) -> Router:
        r = Router("amf")
        r.add("POST", "/namf-callback/v1/{supi}/dereg-notify", self._dereg_notify)
        r.add("GET", "/fivecore-amf/v1/stats", self._stats)
        r.add("POST", "/fivecore-amf/v1/ue-contexts/{supi}/modify", self._modify_ue_context)
        r.add("POST", "/fivecore-amf/v1/configuration-update", self._configuration_update)
        return r

    async def on_start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.persistence is not None:
            # before N2 is up: the restored UEs are there when their first message arrives
            self.persistence.open()
            self._tasks.append(asyncio.create_task(self.persistence.run(), name="amf-persist"))
        if self.trust is not None:
            t = asyncio.create_task(self.trust.flush_loop(), name="amf-exposure-ledger")
            self._bg.add(t)
        # not in _bg: that set is what Overload Start counts (waiting SBI calls)
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="amf-ue-sweep"))
        self._tasks.append(asyncio.create_task(self._reachability_loop(), name="amf-reachability"))
        if self.config.amf.overload_loop_lag_ms:
            self._tasks.append(asyncio.create_task(self._lag_loop(), name="amf-loop-lag"))
        ep = self.config.amf.ngap
        self.sctp_server = await sctp.listen(ep.address, ep.port, self.sctp_config, on_association=self._serve,
                                             local_addresses=ep.extra_addresses or None)
        log.info("event=amf_ngap_listening address=%s port=%d", ep.address, ep.port)

    async def on_stop(self) -> None:
        if self.sctp_server is not None:
            self.sctp_server.close(abort_associations=True)
        for h in self._timers.values():
            h.cancel()
        self._timers.clear()
        self._stopped = True
        self._loop = None
        for t in list(self._bg):
            t.cancel()
        if self.trust is not None:
            self.trust.flush()
        if self.persistence is not None:
            try:
                self.persistence.close()  # the last batch is written on a clean stop
            except Exception:  # noqa: BLE001 - stopping must go on
                log.exception("event=amf_persist_close_failed")

    # --- N2 -----------------------------------------------------------------------------------

    async def _serve(self, assoc: sctp.SctpAssociation) -> None:
        assoc_id = self._next_assoc
        self._next_assoc += 1
        peer = f"{assoc.peer_address[0]}:{assoc.peer_address[1]}"
        gnb = self.ngap.association_up(assoc_id, peer, assoc.out_streams or 2)
        self._assocs[assoc_id] = assoc
        log.info("event=gnb_association_up peer=%s", peer)
        def on_message(msg: sctp.Message) -> None:
            stream, ppid, data = msg
            if ppid != NGAP_PPID:
                self.gmm.ctx.count("sctp_wrong_ppid")
                return
            try:
                outs = self.ngap.on_message(gnb, stream, data)
            except Exception:  # never let one gNB's message take the AMF down
                self.gmm.ctx.count("ngap_internal_error")
                log.exception("event=ngap_internal_error peer=%s", peer)
                return
            self._execute(outs)

        try:
            # Each message is handled as the transport delivers it, answers bundled into the
            # same SCTP packet where they fit: one event-loop turn less per message than recv().
            assoc.set_message_handler(on_message)
            await assoc.wait_closed()
        except sctp.SctpError as exc:
            log.warning("event=gnb_association_error peer=%s err=%s", peer, exc)
        finally:
            self._assocs.pop(assoc_id, None)
            if self.trust is not None:
                self.trust.gnb_policy.removed(gnb)
            self._execute(self.ngap.association_lost(gnb))
            log.info("event=gnb_association_down peer=%s reason=%s", peer, assoc.close_reason)

    def _execute(self, outs: list[Any]) -> None:
        for a in outs:
            t = type(a)  # actions are NamedTuples: one identity test per kind
            if t is NgapSend:
                assoc = self._assocs.get(a.gnb.assoc_id)
                if assoc is None or assoc.is_closed:
                    continue
                try:
                    assoc.send_nowait(a.data, stream=min(a.stream, max(0, assoc.out_streams - 1)), ppid=NGAP_PPID)
                except sctp.SctpError as exc:
                    log.info("event=ngap_send_failed err=%s", exc)
            elif t is SbiCall:
                # started where a task's first step would run; a task only if it has to wait
                self._starting += 1
                (self._loop or asyncio.get_running_loop()).call_soon(self._start_sbi, a)
                self._check_overload()
            elif t is SetTimer:
                key = (a.ue.amf_ue_ngap_id, a.name)
                old = self._timers.pop(key, None)
                if old is not None:
                    old.cancel()
                self._timers[key] = (self._loop or asyncio.get_running_loop()).call_later(
                    a.seconds, self._on_timer, a.ue, a.name, a.token
                )
            elif t is StopTimer:
                old = self._timers.pop((a.ue.amf_ue_ngap_id, a.name), None)
                if old is not None:
                    old.cancel()
            elif t is CloseAssociation:
                assoc = self._assocs.get(a.gnb.assoc_id)
                if assoc is not None:
                    assoc.abort(a.reason)
            elif t is ProbeAssociation:
                assoc = self._assocs.get(a.gnb.assoc_id)
                if assoc is not None:
                    # not in _bg (what Overload Start counts); cancelled with the other tasks
                    task = asyncio.get_running_loop().create_task(self._abort_if_dead(a.gnb, assoc))
                    self._tasks.append(task)
                    task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))

    async def _abort_if_dead(self, gnb: Any, assoc: sctp.SctpAssociation) -> None:
        """A gNB's ID turned up on a new association: if the old one's peer is gone (the node
        restarted), abort it so its UEs are CM-IDLE now rather than at the heartbeat timeout."""
        if await assoc.probe(PROBE_DEADLINE):
            self.gmm.ctx.count("gnb_duplicate_id_alive")  # two live nodes share one ID
            return
        if assoc.is_closed:
            return
        self.gmm.ctx.count("gnb_stale_association_aborted")
        log.warning("event=gnb_stale_association_aborted peer=%s ues=%d", gnb.peer, len(gnb.ues))
        assoc.abort("the gNB's ID came back on a new association and this one's peer is gone")

    def _start_sbi(self, call: SbiCall) -> None:
        if self._stopped:
            self._starting -= 1
            return  # on_stop cancelled the waiting calls; this one never started
        t = run_until_wait(self._sbi(call))
        self._starting -= 1  # counted as waiting until here, as a task would be while it runs
        if t is None:
            self._check_overload()  # done already: what _sbi_done does for a task
            return
        self._bg.add(t)
        t.add_done_callback(self._sbi_done)

    def _sbi_done(self, task: asyncio.Task[Any]) -> None:
        self._bg.discard(task)
        self._check_overload()

    def _check_overload(self) -> None:
        """TS 23.501 §5.19.5.2: tell the RAN to hold back when the AMF cannot keep up.

        Two signals, either one starts it: SBI calls waiting (``amf.overload_threshold``) and
        the event loop's lag (``amf.overload_loop_lag_ms``, measured by :meth:`_lag_loop`): one
        process serves every gNB, so a late loop means every UE's next step waits as long.
        Overload Stop once the calls are down to half and the lag to a quarter.
        """
        limit, lag_limit = self._overload_limits  # runs twice per SBI call: read once
        waiting = len(self._bg) + self._starting
        lag = self.loop_lag
        over = bool(limit and waiting >= limit) or bool(lag_limit and lag >= lag_limit)
        calm = (not limit or waiting <= limit // 2) and (not lag_limit or lag <= lag_limit / 4)
        if not self.overloaded and over:
            self.overloaded = True
            log.warning("event=amf_overload_start waiting_sbi=%d loop_lag_ms=%.0f", waiting, 1000 * lag)
            self._execute(self.ngap.overload(True))
        elif self.overloaded and calm:
            self.overloaded = False
            log.info("event=amf_overload_stop waiting_sbi=%d loop_lag_ms=%.0f", waiting, 1000 * lag)
            self._execute(self.ngap.overload(False))

    async def _lag_loop(self, period: float = 0.05) -> None:
        """Event-loop lag: how late a timer that should fire every ``period`` fires, smoothed
        (EWMA, about 8 samples) so one slow step does not flap Overload Start/Stop."""
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(period)
            late = max(0.0, loop.time() - t - period)
            self.loop_lag += (late - self.loop_lag) / 8
            self._check_overload()

    async def _sbi(self, call: SbiCall) -> None:
        result = await self.sbi.execute(call.op, call.args)
        if call.op == "udm_deregister":
            return
        try:
            outs = self.ngap.translate(self.gmm.sbi_result(call.ue, call.token, call.op, result))
        except Exception:
            self.gmm.ctx.count("gmm_internal_error")
            log.exception("event=gmm_internal_error op=%s", call.op)
            return
        self._execute(outs)

    async def _sweep_loop(self) -> None:
        """One task for all UEs: reap contexts that never finished registering (gmm.sweep)."""
        gmm = self.gmm
        while True:
            await asyncio.sleep(gmm.sweep_interval)
            try:
                self._execute(self.ngap.translate(gmm.sweep()))
                while gmm.reap_pending:
                    await asyncio.sleep(0)  # in batches: a flood's backlog must not stall N2
                    self._execute(self.ngap.translate(gmm.reap_due()))
            except Exception:  # the sweeper must outlive any one bad context
                log.exception("event=amf_sweep_error")

    async def _reachability_loop(self) -> None:
        """One task for all CM-IDLE UEs: their mobile reachable and implicit de-registration
        timers (TS 24.501 §5.3.7, ``Gmm.reachability_due``), in batches."""
        gmm = self.gmm
        while True:
            await asyncio.sleep(gmm.reachability_interval)
            try:
                self._execute(self.ngap.translate(gmm.reachability_due()))
                while gmm.reachability_pending:
                    await asyncio.sleep(0)
                    self._execute(self.ngap.translate(gmm.reachability_due()))
            except Exception:  # the timers must outlive any one bad context
                log.exception("event=amf_reachability_error")

    def modify_ue_context(
        self, supi: str, *, security_key: bool = False, ue_ambr: tuple[int, int] | None = None,
        rfsp: int | None = None,
    ) -> bool:
        """TS 38.413 §8.3.4: UE Context Modification for a CM-CONNECTED UE (by SUPI); False
        when the UE is unknown, idle, or nothing was asked."""
        ue = self.gmm.ctx.by_supi.get(supi)
        if ue is None:
            return False
        outs = self.ngap.ue_context_modification(ue, security_key=security_key, ue_ambr=ue_ambr, rfsp=rfsp)
        self._execute(outs)
        return bool(outs)

    def update_amf_configuration(self, **changes: Any) -> int:
        """TS 38.413 §8.7.3: AMF Configuration Update to every ready gNB (``amf_name``,
        ``relative_capacity``, ``extra_guamis``, ``slices``); returns how many were told."""
        outs = self.ngap.amf_configuration_update(**changes)
        self._execute(outs)
        return len(outs)

    def _on_timer(self, ue: Any, name: str, token: int) -> None:
        self._timers.pop((ue.amf_ue_ngap_id, name), None)
        try:
            outs = self.ngap.translate(self.gmm.timer_expired(ue, name, token))
        except Exception:
            log.exception("event=gmm_internal_error timer=%s", name)
            return
        self._execute(outs)

    # --- SBI served by the AMF -------------------------------------------------------------------

    async def _dereg_notify(self, req: Request) -> Response:
        """TS 29.503 §5.3.2.3.2 Nudm_UECM DeregistrationNotification -> network de-registration."""
        supi = req.path_params["supi"]
        body = req.json()
        if not isinstance(body, dict) or "deregReason" not in body:
            raise HttpError(400, "MANDATORY_IE_MISSING", "deregReason is required")
        ue = self.gmm.ctx.by_supi.get(supi)
        if ue is None or ue.state != GmmState.REGISTERED:
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no registered UE with that SUPI")
        reregister = body.get("deregReason") in ("REREGISTRATION_REQUIRED", "INITIAL_REGISTRATION")
        self._execute(self.ngap.translate(self.gmm.deregister(ue, None, reregister)))
        return Response(204)

    def stats(self) -> dict[str, Any]:
        ctx = self.gmm.ctx
        states: dict[str, int] = {}
        connected = 0
        for ue in ctx.ues.values():
            k = ue.state.name
            states[k] = states.get(k, 0) + 1
            connected += ue.gnb is not None
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "pid": os.getpid(),
            "gnbs": len(ctx.gnbs),
            "ues": len(ctx.ues),
            "ue_states": states,
            "cm_connected": connected,
            "counters": dict(ctx.stats),
            "overloaded": self.overloaded,
            "loop_lag_ms": round(1000 * self.loop_lag, 1),
            "cpu_seconds": ru.ru_utime + ru.ru_stime,
            "max_rss_kb": ru.ru_maxrss,
            "rss_kb": _current_rss_kb(),
            "uptime": time.monotonic() - self.started_at,
            "persist": self.persistence.info() if self.persistence is not None else None,
        }

    def _modify_ue_context(self, req: Request) -> Response:
        """Management trigger for TS 38.413 §8.3.4: ``{"securityKey": bool, "ueAmbr":
        {"uplink": "100 Mbps", "downlink": "200 Mbps"}, "rfsp": 1..256}``; 204, or 404 when
        the UE is unknown or not CM-CONNECTED."""
        from fivecore.nf.amf.gmm import subscribed_ue_ambr

        body = req.json()
        if not isinstance(body, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "a JSON object is required")
        ambr = None
        if body.get("ueAmbr") is not None:
            ambr = subscribed_ue_ambr(body["ueAmbr"])
            if ambr is None:
                raise HttpError(400, "INVALID_MSG_FORMAT", "ueAmbr needs uplink and downlink bit rates")
        rfsp = body.get("rfsp")
        if rfsp is not None and (not isinstance(rfsp, int) or isinstance(rfsp, bool) or not 1 <= rfsp <= 256):
            raise HttpError(400, "INVALID_MSG_FORMAT", "rfsp is 1..256")
        if not self.modify_ue_context(req.path_params["supi"], security_key=bool(body.get("securityKey")),
                                      ue_ambr=ambr, rfsp=rfsp):
            raise HttpError(404, "CONTEXT_NOT_FOUND", "no CM-CONNECTED UE with that SUPI, or nothing to change")
        return Response(204)

    def _configuration_update(self, req: Request) -> Response:
        """Management trigger for TS 38.413 §8.7.3: ``{"amfName", "relativeCapacity",
        "extraGuamis": [{"plmn", "regionId", "setId", "pointer"}], "slices": [{"sst", "sd"}]}``."""
        body = req.json()
        if not isinstance(body, dict):
            raise HttpError(400, "INVALID_MSG_FORMAT", "a JSON object is required")
        changes: dict[str, Any] = {}
        try:
            if "amfName" in body:
                changes["amf_name"] = str(body["amfName"])
            if "relativeCapacity" in body:
                changes["relative_capacity"] = int(body["relativeCapacity"])
            if "extraGuamis" in body:
                changes["extra_guamis"] = [(str(g["plmn"]), int(g["regionId"]), int(g["setId"]), int(g["pointer"]))
                                           for g in body["extraGuamis"]]
            if "slices" in body:
                changes["slices"] = [(int(x["sst"]), int(x["sd"], 16) if x.get("sd") else None) for x in body["slices"]]
            n = self.update_amf_configuration(**changes)
        except (KeyError, TypeError, ValueError, AttributeError, EncodeError) as exc:
            raise HttpError(400, "INVALID_MSG_FORMAT", str(exc)) from None
        return json_response({"gnbs": n})

    def _stats(self, req: Request) -> Response:
        return json_response(self.stats())


class _Trust:
    """Vendor trust at NG Setup and the RAN exposure ledger (``fivecore.trust``, issue 10)."""

    def __init__(self, config: Config) -> None:
        from fivecore.trust import ExposureLedger, ExposureRecorder, TrustPolicy
        from fivecore.trust.exposure import AmfSecuritySettings
        from fivecore.trust.hooks import AmfGnbPolicy
        from fivecore.trust.loader import audit_log_for

        a = config.amf
        assert a.trust_policy is not None
        policy = TrustPolicy.from_file(a.trust_policy)
        self.audit = audit_log_for(policy)
        self.recorder = ExposureRecorder()
        data_dir = a.data_dir or os.environ.get("FIVECORE_DATA_DIR", "var")
        self.ledger = ExposureLedger(data_dir)
        self.gnb_policy = AmfGnbPolicy(policy, self.audit, self.recorder, actor="amf")
        self.recorder.amf_config(AmfSecuritySettings(
            integrity_order=a.security.integrity_ids(),
            ciphering_order=a.security.ciphering_ids(),
            null_scheme_suci_accepted=True,
            guti_reallocation=True,
            imeisv_to_ran="none",
        ))

    def observe(self, kind: str, ue: Any, info: dict[str, Any]) -> None:
        """5GMM observations -> exposure events; never lets an audit problem stop a UE."""
        from fivecore.trust import SuciScheme

        gnb = ue.gnb.global_ran_node_id if ue.gnb is not None else None
        if ue.supi is None or gnb is None:
            return
        try:
            ref = self.ledger.ue_ref(ue.supi)
            r = self.recorder
            if kind == "registration":
                scheme = info.get("suci_scheme")
                r.registration(ref, gnb, identity=info["identity"],
                               suci_scheme=SuciScheme.from_scheme_id(scheme) if scheme is not None else None)
            elif kind == "nas_security":
                r.nas_security(ref, gnb, nea=info["nea"], nia=info["nia"])
            elif kind == "kgnb":
                r.kgnb_delivered(ref, gnb)
            elif kind == "guti":
                r.guti_assigned(ref, gnb, reallocated=info["reallocated"])
        except Exception:  # noqa: BLE001 - the audit must not break registration
            log.exception("event=exposure_record_failed kind=%s", kind)

    def flush(self) -> None:
        try:
            self.ledger.write(self.recorder.drain())
        except OSError as exc:
            log.warning("event=exposure_ledger_write_failed err=%s", exc)

    async def flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.flush()


def _current_rss_kb() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m fivecore.nf.amf [--config FILE]``: run one AMF until SIGINT/SIGTERM."""
    import argparse

    from fivecore.config import load_config
    from fivecore.errors import FivecoreError
    from fivecore.nf.common.app import run_forever

    ap = argparse.ArgumentParser(prog="fivecore-amf")
    ap.add_argument("--config", default=None)
    ap.add_argument("--log-level", default=None)
    ns = ap.parse_args(argv)
    try:
        config = load_config(ns.config)
    except FivecoreError as exc:
        print(f"fivecore: error: {exc}")
        return 2
    logging.basicConfig(
        level=(ns.log_level or config.logging.level).upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    install_fast_loop()
    asyncio.run(run_forever([AmfApp(config)]))
    return 0
