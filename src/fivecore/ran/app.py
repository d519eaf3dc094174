"""The simulator process: N gNBs and M UEs in one asyncio loop, plus its control socket.

:class:`RanSim` builds the UEs from :class:`fivecore.ran.config.RanConfig`, brings the gNBs up
(NG Setup), registers UEs with bounded concurrency and records per-UE latency. The control
socket (a Unix socket speaking one JSON object per line, like UERANSIM's nr-cli speaks to its
UEs) answers ``ue list``, ``ue register``, ``ue deregister``, ``gnb status`` and ``stats``.

Each simulated gNB is a :class:`~fivecore.ran.gnb.GnbNode`: with ``gnb.amfs`` in the
configuration it holds one NG association per AMF (same Global RAN Node ID) and every new
UE-associated connection goes to the AMF NAS node selection picks (GUAMI of the UE's 5G-GUTI,
else Relative AMF Capacity); a connected UE's messages stay on its connection's association.
``gnbs`` lists every N2 endpoint (one per gNB with one AMF, as before), ``nodes`` the gNBs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from fivecore.errors import FivecoreError
from fivecore.ran.config import RanConfig, SessionTemplate
from fivecore.ran.gnb import Gnb, GnbConfig, GnbNode, RanUe
from fivecore.ran.ue import Ue, UeState
from fivecore.runtime import await_within
from fivecore.transport import sctp

log = logging.getLogger("fivecore.ran")


class RanSim:
    """Simulated RAN: gNBs sharing the UEs round-robin (see module docstring)."""

    def __init__(
        self,
        cfg: RanConfig,
        n_gnbs: int = 1,
        n_ues: int = 1,
        sctp_config: sctp.SctpConfig | None = None,
    ) -> None:
        if n_gnbs < 1 or n_ues < 0:
            raise FivecoreError("need at least one gNB and a non-negative number of UEs")
        self.cfg = cfg
        g = cfg.gnb
        # one N2 endpoint per (gNB, AMF); a gNB's endpoints share its identity (TS 38.413
        # §9.3.1.5 Global RAN Node ID is the node's, not the association's)
        self.nodes = [
            GnbNode([
                Gnb(
                    GnbConfig(
                        gnb_id=g.id_base + i, name=f"{g.name}-{i}", mcc=g.mcc, mnc=g.mnc, tac=g.tac,
                        slices=g.slices, nci=(g.nci_base + i) & ((1 << 36) - 1), amf_host=host,
                        amf_port=port, local_host=g.local_host, local_addresses=g.extra_addresses,
                    ),
                    sctp_config,
                )
                for host, port in g.amf_list()
            ])
            for i in range(n_gnbs)
        ]
        self.gnbs = [link for node in self.nodes for link in node.links]
        self.ues: list[RanUe] = []
        #: id(UeProfile) -> its UE file: a profile is shared by the UEs made from one file
        self._templates = {id(t.profile): t for t in cfg.ues}
        self.by_supi: dict[str, RanUe] = {}
        self.stats: dict[str, int] = {}
        n_t = len(cfg.ues)
        for i in range(n_ues):
            tmpl = cfg.ues[i % n_t]
            ue = Ue(tmpl.usim(i // n_t), tmpl.profile)
            ue.stats = self.stats
            ru = RanUe(ue, self.nodes[i % n_gnbs].links[0])
            self.ues.append(ru)
            self.by_supi[ue.supi] = ru
        self._waiters: dict[int, tuple[asyncio.Future[UeState], frozenset[UeState]]] = {}
        self.latencies: list[float] = []
        #: UE de-registration retransmission (TS 24.501 T3521 is 15 s; shortened for simulation)
        self.t3521 = 3.0
        self._server: asyncio.AbstractServer | None = None
        self.control_path: str | None = None
        #: TS 24.501 §5.6.1.5 / §5.5.1.3.5: after a #9 / #10 reject (an AMF that lost the UE,
        #: e.g. a restarted AMF Set member) the UE registers again at once, as a real UE does
        self.reregister_after_reject = True
        self.reregister_timeout = 30.0
        #: id(RanUe) -> that UE's re-registration under way
        self._reregistering: dict[int, asyncio.Task[UeState]] = {}
        for gnb in self.gnbs:
            gnb.listeners.append(self._on_state)
            gnb.lost_listeners.append(self._on_gnb_lost)
            gnb.raw_listeners.append(lambda pdu, gnb=gnb: self._on_paging(gnb, pdu))

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.gather(*(n.start() for n in self.nodes))

    async def stop(self) -> None:
        for task in list(self._reregistering.values()):
            task.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            if self.control_path:
                with contextlib.suppress(OSError):
                    os.unlink(self.control_path)
        await asyncio.gather(*(n.stop() for n in self.nodes), return_exceptions=True)

    # --- waiting for outcomes --------------------------------------------------------------------

    def _on_paging(self, gnb: Gnb, pdu: Any) -> None:
        """TS 38.413 §8.5.1 / TS 24.501 §5.6.1.2: a paged idle UE camped here answers with a
        Service Request for mobile terminated services."""
        if pdu.procedure != "Paging":
            return
        alt, ident = pdu["UEPagingIdentity"]
        if alt != "fiveG-S-TMSI":
            return
        tmsi = int.from_bytes(ident["fiveG-TMSI"], "big")
        for ru in self.ues:
            g = ru.ue.guti
            # the UE camps on the gNB, whichever of its AMFs pages it
            if g is not None and g.tmsi == tmsi and ru.gnb.node is gnb.node:
                if ru.ran_id is None and ru.ue.state == UeState.REGISTERED and ru.ue.sec is not None:
                    self.stats["paged"] = self.stats.get("paged", 0) + 1
                    self.serving(ru).service_request(ru, service_type=2)
                return

    def _on_gnb_lost(self, gnb: Gnb, reason: str) -> None:
        """The gNB's N2 association is gone and with it every NG connection on it: a procedure
        under way there can no longer be answered, so end its wait now rather than at its
        timeout (the caller sees the UE's state and may try again once the gNB is back)."""
        self.stats["n2_lost"] = self.stats.get("n2_lost", 0) + 1
        if not self._waiters:
            return
        for ru in self.ues:
            if ru.gnb is not gnb:
                continue
            w = self._waiters.get(id(ru))
            if w is not None and not w[0].done():
                self.stats["aborted_by_n2_loss"] = self.stats.get("aborted_by_n2_loss", 0) + 1
                w[0].set_result(ru.ue.state)

    def _on_state(self, ru: RanUe, before: UeState, after: UeState) -> None:
        w = self._waiters.get(id(ru))
        if w is not None and after in w[1] and not w[0].done():
            w[0].set_result(after)
        if after == UeState.DEREGISTERED and ru.ue.reregister:
            ru.ue.reregister = False
            if self.reregister_after_reject and id(ru) not in self._reregistering:
                self.stats["reregistrations"] = self.stats.get("reregistrations", 0) + 1
                task = asyncio.get_running_loop().create_task(self._reregister(ru), name="ue-reregister")
                self._reregistering[id(ru)] = task
                task.add_done_callback(lambda _t, k=id(ru): self._reregistering.pop(k, None))

    async def _reregister(self, ru: RanUe) -> UeState:
        """TS 24.501 §5.6.1.5 / §5.5.1.3.5 (#9, #10): "subsequently, automatically initiate the
        initial registration procedure" -- with the SUCI, the 5G-GUTI being deleted. A follow-on
        request keeps the NG connection for the PDU sessions the UE wants back."""
        sm = ru.ue.sm
        follow_on = bool(sm is not None and sm.to_restore)
        state = await self.register(ru, self.reregister_timeout, follow_on=follow_on)
        key = "reregistered" if state == UeState.REGISTERED else "reregistration_failed"
        self.stats[key] = self.stats.get(key, 0) + 1
        log.info("event=ue_reregistered gnb_id=%d state=%s cause=%s", ru.gnb.cfg.gnb_id, state.name,
                 ru.ue.last_cause)
        return state

    async def recovered(self, ru: RanUe) -> UeState:
        """The UE's state once a re-registration after a #9 / #10 reject (if one runs) is done."""
        task = self._reregistering.get(id(ru))
        if task is None or task is asyncio.current_task():
            return ru.ue.state
        return await asyncio.shield(task)

    async def _run(self, ru: RanUe, start: Any, until: frozenset[UeState], timeout: float,
                   retransmit: float | None = None) -> UeState:
        """Start a procedure and wait for one of ``until``; re-send every ``retransmit`` s
        (the UE's T3521-like retransmission, TS 24.501 §5.5.2.2.6)."""
        fut: asyncio.Future[UeState] = asyncio.get_running_loop().create_future()
        self._waiters[id(ru)] = (fut, until)
        deadline = time.monotonic() + timeout
        try:
            start()
            if ru.ue.state in until:
                return ru.ue.state
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if not retransmit:
                    return await await_within(fut, left)  # one wait, nothing to resend
                step = min(left, retransmit)
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), step)
                except TimeoutError:
                    if not retransmit or time.monotonic() >= deadline:
                        raise
                    self.stats["retransmissions"] = self.stats.get("retransmissions", 0) + 1
                    start()
        except TimeoutError:
            self.stats["timeouts"] = self.stats.get("timeouts", 0) + 1
            return ru.ue.state
        finally:
            # only our own wait: a procedure this one's outcome started (the registration after
            # a #9 reject) may already have put its own in
            w = self._waiters.get(id(ru))
            if w is not None and w[0] is fut:
                del self._waiters[id(ru)]

    async def _backoff_over(self, ru: RanUe, timeout: float) -> bool:
        """TS 24.501 §5.3.9: no registration or service request while T3346 runs. Waits for it
        when it runs out within ``timeout``; False (and counted) when it does not."""
        until = ru.t3346_until
        if until is None:
            return True
        left = until - time.monotonic()
        if left > timeout:
            self.stats["t3346_held"] = self.stats.get("t3346_held", 0) + 1
            return False
        if left > 0:
            await asyncio.sleep(left)
        ru.t3346_until = None
        return True

    @staticmethod
    def _note_backoff(ru: RanUe) -> None:
        """TS 24.501 §5.5.1.2.5, §5.6.1.5: a #22 reject with a T3346 value starts T3346."""
        ue = ru.ue
        if ue.last_cause == 22 and ue.t3346:
            ru.t3346_until = time.monotonic() + ue.t3346

    @staticmethod
    def serving(ru: RanUe, peek: bool = False) -> Gnb:
        """The N2 endpoint for ``ru``'s next message: its connection's, or the AMF its gNB picks
        for a new one (TS 23.501 §6.3.5 NAS node selection, :func:`fivecore.ran.gnb.choose_amf`);
        ``peek``: only look (the weighted round-robin moves on when a message is sent)."""
        node = ru.gnb.node
        return ru.gnb if node is None else node.choose(ru, peek)

    async def register(self, ru: RanUe, timeout: float = 30.0, follow_on: bool = False,
                       reg_type: int = 1) -> UeState:
        """Register one UE; returns its state when done (REGISTERED, or DEREGISTERED if rejected).
        ``reg_type``: 1 initial, 2 mobility and 3 periodic registration updating (TS 24.501
        §9.11.3.7; the UE's 5G-GUTI identifies it in all three once it has one).

        While T3346 from an earlier congestion reject runs past ``timeout`` nothing is sent and
        the UE's state is returned as it is (``stats["t3346_held"]`` counts these)."""
        if not await self._backoff_over(ru, timeout):
            return ru.ue.state
        if ru.ue.state == UeState.DEREGISTERED and ru.ran_id is not None:
            # the network releases the connection right after a de-registration: like a real
            # UE, start the next registration once RRC is idle, not on the dying connection
            for _ in range(250):
                if ru.ran_id is None:
                    break
                await asyncio.sleep(0.02)
        hold_until = time.monotonic() + timeout
        while ((g := self.serving(ru, True)).overloaded and g.ready and ru.ran_id is None
               and time.monotonic() < hold_until):
            # RRC connection requests for signalling are held back while the AMF is overloaded
            await asyncio.sleep(0.05)
        while not (g := self.serving(ru, True)).ready and g.reconnecting and time.monotonic() < hold_until:
            # the cell is barred while its gNB has no N2 (it is re-running NG Setup)
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        state = await self._run(
            ru, lambda: self.serving(ru).register(ru, follow_on, reg_type),
            frozenset({UeState.REGISTERED, UeState.DEREGISTERED}),
            timeout,
        )
        if state == UeState.REGISTERED:
            self.latencies.append(time.perf_counter() - t0)
        else:
            self._note_backoff(ru)
            if state == UeState.DEREGISTERED and self._reregistering:
                # a mobility / periodic registration rejected with #9 / #10: the new initial
                # registration it started is this call's outcome
                state = await self.recovered(ru)
        return state

    async def deregister(self, ru: RanUe, timeout: float = 30.0, switch_off: bool = False) -> UeState:
        return await self._run(
            ru, lambda: self.serving(ru).deregister(ru, switch_off), frozenset({UeState.DEREGISTERED}), timeout,
            retransmit=self.t3521,
        )

    async def service_request(self, ru: RanUe, timeout: float = 30.0) -> UeState:
        """TS 24.501 §5.6.1: Service Request; held like :meth:`register` while T3346 runs.

        Rejected with #9 / #10 (the AMF does not know the UE, e.g. it restarted), the UE
        registers again at once (``reregister_after_reject``); the state returned is then that
        registration's outcome (``stats["reregistered"]`` counts them)."""
        if not await self._backoff_over(ru, timeout):
            return ru.ue.state
        state = await self._run(
            ru, lambda: self.serving(ru).service_request(ru), frozenset({UeState.REGISTERED, UeState.DEREGISTERED}),
            timeout
        )
        self._note_backoff(ru)
        if state == UeState.DEREGISTERED:
            state = await self.recovered(ru)
        return state

    async def register_all(
        self, ues: Iterable[RanUe] | None = None, concurrency: int = 200, timeout: float = 30.0,
        rate: float | None = None, progress: Any = None, follow_on: bool = False,
    ) -> dict[str, Any]:
        """Register many UEs, at most ``concurrency`` at once (and at most ``rate`` starts/s);
        ``follow_on``: with the follow-on request (the UEs have sessions to establish next)."""
        fn: Any = functools.partial(self.register, follow_on=True) if follow_on else self.register
        return await self._many(fn, ues, concurrency, timeout, rate, progress, UeState.REGISTERED)

    async def deregister_all(
        self, ues: Iterable[RanUe] | None = None, concurrency: int = 200, timeout: float = 30.0,
        progress: Any = None,
    ) -> dict[str, Any]:
        return await self._many(self.deregister, ues, concurrency, timeout, None, progress, UeState.DEREGISTERED)

    async def _many(self, fn: Any, ues: Iterable[RanUe] | None, concurrency: int, timeout: float,
                    rate: float | None, progress: Any, want: UeState) -> dict[str, Any]:
        todo = list(self.ues if ues is None else ues)
        sem = asyncio.Semaphore(max(1, concurrency))
        ok = 0
        failed: list[str] = []
        t0 = time.perf_counter()
        interval = 1.0 / rate if rate else 0.0

        async def one(i: int, ru: RanUe) -> None:
            nonlocal ok
            try:
                state = await fn(ru, timeout)
            finally:
                sem.release()
            if state == want:
                ok += 1
            else:
                failed.append(ru.ue.supi)
            if progress is not None:
                progress()

        tasks = []
        for i, ru in enumerate(todo):
            await sem.acquire()
            if interval:
                delay = t0 + i * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, ru)))
        await asyncio.gather(*tasks)
        return {"ok": ok, "failed": failed, "seconds": time.perf_counter() - t0, "total": len(todo)}

    # --- PDU sessions of the UE files ---------------------------------------------------------------

    def session_plan(self, ru: RanUe) -> tuple[SessionTemplate, ...]:
        """The PDU sessions ``ru``'s UE file lists (its ``sessions``), in order."""
        tmpl = self._templates.get(id(ru.ue.profile))
        return tmpl.sessions if tmpl is not None else ()

    async def establish_sessions(self, up: Any, ues: Iterable[RanUe] | None = None, concurrency: int = 50,
                                 timeout: float = 30.0) -> dict[str, Any]:
        """Establish every UE's configured sessions through ``up`` (a
        :class:`fivecore.ran.userplane.UserPlane`), each with its PDU session type (TS 24.501
        §6.4.1.2, §9.11.4.11): the ``sessions`` of the UE file, as UERANSIM's nr-ue does once
        registered. UEs not registered are skipped; a UE's sessions go one after the other.

        Returns ``{"ok", "total", "failed": [..], "seconds", "sessions": [..]}``; each of
        ``sessions`` names the UE, PSI, type, DNN, its addresses and interface."""
        todo = [ru for ru in (self.ues if ues is None else ues)
                if ru.ue.state == UeState.REGISTERED and self.session_plan(ru)]
        sem = asyncio.Semaphore(max(1, concurrency))
        done: list[dict[str, Any]] = []
        failed: list[str] = []
        t0 = time.perf_counter()

        async def one(ru: RanUe) -> None:
            async with sem:
                for st in self.session_plan(ru):
                    where = f"{ru.ue.supi}/{st.psi}"
                    try:
                        sess = await up.establish(ru, st.psi, st.dnn, st.snssai, timeout, pdu_type=st.pdu_type)
                    except (TimeoutError, FivecoreError, OSError) as exc:
                        failed.append(f"{where}: {type(exc).__name__}: {exc}"[:200])
                        continue
                    done.append({"supi": ru.ue.supi, "psi": st.psi, "type": st.type_name, "dnn": st.dnn,
                                 "ipv4": sess.ipv4, "ipv6": sess.ipv6, "ipv6_mtu": sess.ipv6_mtu,
                                 "ipv6_dns": list(sess.ipv6_dns), "netns": up.namespace(ru),
                                 "interface": up.interface(ru, st.psi)})

        await asyncio.gather(*(one(ru) for ru in todo))
        total = sum(len(self.session_plan(ru)) for ru in todo)
        return {"ok": len(done), "total": total, "failed": failed, "seconds": time.perf_counter() - t0,
                "sessions": sorted(done, key=lambda d: (d["supi"], d["psi"]))}

    # --- Xn handover ------------------------------------------------------------------------------

    def node_by_id(self, gnb_id: int) -> GnbNode:
        for node in self.nodes:
            if node.cfg.gnb_id == gnb_id:
                return node
        raise FivecoreError(f"no gNB with id {gnb_id}")

    async def handover(self, ru: RanUe, target: int | Gnb | GnbNode, timeout: float = 10.0) -> Any:
        """Xn handover of the CM-CONNECTED UE ``ru`` to the gNB ``target`` (a gNB id or the
        gNB itself), TS 23.502 §4.9.1.2.2 (:func:`fivecore.ran.handover.xn_handover`): the
        target's PATH SWITCH REQUEST, the AMF's Acknowledge, the UE's user plane on the
        target's N3. Needs both gNBs' user planes (``UserPlane.add_gnb``). Returns the
        Acknowledge; raises :class:`fivecore.ran.handover.HandoverFailed`."""
        from fivecore.ran.handover import xn_handover

        node = self.node_by_id(target) if isinstance(target, int) else target
        return await xn_handover(ru, node, timeout)

    async def n2_handover(self, ru: RanUe, target: int | Gnb | GnbNode, timeout: float = 10.0,
                          cancel: bool = False) -> Any:
        """N2 handover of the CM-CONNECTED UE ``ru`` to the gNB ``target`` (a gNB id or the gNB
        itself), TS 23.502 §4.9.1.3 (:func:`fivecore.ran.n2_handover.n2_handover`); with
        ``cancel`` the source cancels it after the command. Returns the HANDOVER COMMAND;
        raises :class:`fivecore.ran.handover.HandoverFailed`."""
        from fivecore.ran.n2_handover import n2_handover

        node = self.node_by_id(target) if isinstance(target, int) else target
        return await n2_handover(ru, node, timeout, cancel)

    # --- views ------------------------------------------------------------------------------------

    @staticmethod
    def ue_view(ru: RanUe) -> dict[str, Any]:
        ue: Ue = ru.ue
        g = ue.guti
        return {
            "supi": ue.supi,
            "state": ue.state.name,
            "guti": g.guti_string() if g is not None else None,
            "gnb": ru.gnb.cfg.gnb_id,
            # the AMF of the UE's current (or last) NG connection
            "amf": f"{ru.gnb.cfg.amf_host}:{ru.gnb.cfg.amf_port}",
            "connected": ue.connected,
            "last_cause": ue.last_cause,
            "t3346_left_s": (round(max(0.0, ru.t3346_until - time.monotonic()), 1)
                             if ru.t3346_until is not None else None),
            "suci_scheme": ue.usim.protection_scheme,
            "allowed_nssai": [list(s) for s in ue.allowed_nssai],
        }

    def gnb_view(self, gnb: Gnb | GnbNode) -> dict[str, Any]:
        """One gNB's status: for a :class:`GnbNode` with its NG connection to each AMF under
        ``amfs`` (address, AMF name, ready, UEs, capacity, GUAMIs), counters summed over them."""
        if isinstance(gnb, Gnb):
            return self._link_view(gnb)
        links = [self._link_view(g) for g in gnb.links]
        if len(links) == 1:
            return {**links[0], "amfs": [self._amf_view(gnb.links[0])]}
        out = dict(links[0])
        out["ready"] = gnb.ready
        out["amf"] = ", ".join(str(g.amf_name or "-") for g in gnb.links)
        for k in ("connected_ues", "ngap_rx", "ngap_tx", "ngap_tx_dropped", "associations_lost", "reconnects",
                  "error_indications_rx", "kgnb_mismatch", "handovers_in", "handovers_out",
                  "path_switch_failures", "nh_mismatch"):
            out[k] = sum(v[k] for v in links)
        out["amfs"] = [{**self._amf_view(g), "sctp": v["sctp"]} for g, v in zip(gnb.links, links, strict=True)]
        return out

    @staticmethod
    def _amf_view(gnb: Gnb) -> dict[str, Any]:
        s = gnb.stats
        return {
            "address": f"{gnb.cfg.amf_host}:{gnb.cfg.amf_port}",
            "amf": gnb.amf_name,
            "ready": gnb.ready,
            "reconnecting": gnb.reconnecting,
            "ues": len(gnb.connected),
            "relative_capacity": gnb.amf_relative_capacity,
            "guamis": [f"{p}:{r}:{st}:{ptr}" for p, r, st, ptr in gnb.amf_served_guamis],
            "overloaded": gnb.overloaded,
            "ngap_rx": s.ngap_rx,
            "ngap_tx": s.ngap_tx,
        }

    @staticmethod
    def _link_view(gnb: Gnb) -> dict[str, Any]:
        s = gnb.stats
        return {
            "id": gnb.cfg.gnb_id,
            "name": gnb.cfg.name,
            "ready": gnb.ready,
            "amf": gnb.amf_name,
            "connected_ues": len(gnb.connected),
            "ngap_rx": s.ngap_rx,
            "ngap_tx": s.ngap_tx,
            "ngap_tx_dropped": s.ngap_tx_dropped,
            "associations_lost": s.associations_lost,
            "reconnects": s.reconnects,
            "error_indications_rx": s.error_indications_rx,
            "kgnb_mismatch": s.kgnb_mismatch,
            "handovers_in": s.handovers_in,
            "handovers_out": s.handovers_out,
            "path_switch_failures": s.path_switch_failures,
            "nh_mismatch": s.nh_mismatch,
            "n3": dict(gnb.user_plane.stats) if gnb.user_plane is not None else {},
            "sctp": dict(gnb.assoc.stats) if gnb.assoc is not None else {},
        }

    def summary(self) -> dict[str, Any]:
        states: dict[str, int] = {}
        for ru in self.ues:
            states[ru.ue.state.name] = states.get(ru.ue.state.name, 0) + 1
        lat = sorted(self.latencies)
        return {
            "gnbs": len(self.nodes),
            "ues": len(self.ues),
            "states": states,
            "counters": dict(self.stats),
            "latency_ms": {
                "p50": 1000 * lat[len(lat) // 2] if lat else None,
                "p99": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
            },
        }

    # --- control socket ----------------------------------------------------------------------------

    async def serve_control(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(self._client, path=path)
        os.chmod(path, 0o600)
        self.control_path = path

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    req = json.loads(line)
                    if not isinstance(req, dict):
                        raise ValueError("request must be a JSON object")
                    resp = await self.command(req)
                except (ValueError, KeyError, TypeError) as exc:
                    resp = {"ok": False, "error": str(exc)}
                writer.write(json.dumps(resp).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def command(self, req: dict[str, Any]) -> dict[str, Any]:
        """One control command (the nr-cli equivalent)."""
        cmd = str(req.get("cmd", ""))
        if cmd == "ue list":
            return {"ok": True, "ues": [self.ue_view(ru) for ru in self.ues]}
        if cmd in ("ue deregister", "ue register", "ue show", "ue service-request", "ue handover"):
            supi = str(req["supi"])
            if not supi.startswith("imsi-"):
                supi = "imsi-" + supi
            ru = self.by_supi.get(supi)
            if ru is None:
                return {"ok": False, "error": f"no UE {supi}"}
            if cmd == "ue deregister":
                await self.deregister(ru, float(req.get("timeout", 10)), bool(req.get("switch_off", False)))
            elif cmd == "ue register":
                await self.register(ru, float(req.get("timeout", 10)))
            elif cmd == "ue service-request":
                await self.service_request(ru, float(req.get("timeout", 10)))
            elif cmd == "ue handover":
                try:
                    if req.get("n2") or req.get("cancel"):
                        await self.n2_handover(ru, int(req["gnb"]), float(req.get("timeout", 10)),
                                               bool(req.get("cancel", False)))
                    else:
                        await self.handover(ru, int(req["gnb"]), float(req.get("timeout", 10)))
                except FivecoreError as exc:
                    return {"ok": False, "error": str(exc), "ue": self.ue_view(ru)}
            return {"ok": True, "ue": self.ue_view(ru)}
        if cmd == "gnb status":
            return {"ok": True, "gnbs": [self.gnb_view(n) for n in self.nodes]}
        if cmd == "stats":
            return {"ok": True, **self.summary()}
        return {"ok": False, "error": f"unknown command {cmd!r}"}


async def control_request(path: str, req: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """Send one command to a running simulator's control socket."""
    try:
        reader, writer = await asyncio.open_unix_connection(path)
    except OSError as exc:
        raise FivecoreError(f"no simulator at {path} ({exc.strerror or exc}); is `fivecore ran` running?") from None
    try:
        writer.write(json.dumps(req).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    if not line:
        raise FivecoreError("the simulator closed the control connection")
    return json.loads(line)
