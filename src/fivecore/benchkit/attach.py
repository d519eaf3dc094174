"""The attach and scale benchmarks.

An *attach* is what a phone does when it is switched on (TS 23.502 §4.2.2.2.2 then §4.3.2.2.1):
initial registration with SUCI (Profile A), 5G-AKA through AUSF/UDM/UDR, NAS Security Mode
Control, Initial Context Setup, Registration Accept/Complete, then one PDU session (5GSM
establishment through the SMF, PFCP session in the UPF, PDU Session Resource Setup at the gNB).
It is done when the UE holds the PDU Session Establishment Accept. Every message is on the
real wire (NGAP over SCTP, HTTP/2 inside the core only where the single-host layout keeps NFs
apart, PFCP over UDP); the simulator's gNB builds a real GTP-U tunnel endpoint for each session
but the UE gets no kernel TUN device (that is the simulator's cost, not the core's, and a
``ip`` command per UE would measure iproute2).

Arrivals are open loop (:mod:`fivecore.benchkit.driver`); latency runs from the scheduled
arrival to the accept. CPU per attach is the core processes' own CPU time over the run divided
by the attaches; the simulator's CPU is reported beside it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fivecore.benchkit.driver import DriveResult, open_loop
from fivecore.benchkit.network import FIRST_IMSI, BenchNetwork
from fivecore.benchkit.procs import PeakRss, ProcessSet
from fivecore.benchkit.stats import summarize_ms
from fivecore.errors import FivecoreError
from fivecore.runtime import await_within, settle_heap


class AttachError(FivecoreError):
    """One attach did not complete (the message names the step and the cause)."""


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import psutil

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


@dataclass
class Attacher:
    """A simulator (gNBs + UEs) wired for attaches: RanSim, a user-plane half per gNB, 5GSM."""

    sim: Any
    gnb_ups: list[Any]
    dnn: str
    snssai: tuple[int, int | None]
    reg_timeout: float = 30.0
    sm_timeout: float = 30.0
    #: id(RanUe) -> the PDU session request to send the moment that UE is REGISTERED
    _on_registered: dict[int, Callable[[], None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        from fivecore.ran.ue import UeState

        registered = UeState.REGISTERED

        def on_state(ru: Any, _before: Any, after: Any) -> None:
            if after == registered:
                send = self._on_registered.pop(id(ru), None)
                if send is not None:
                    send()

        for g in self.sim.gnbs:
            g.listeners.append(on_state)

    @classmethod
    async def create(cls, net: BenchNetwork, n_ues: int, first_imsi: str, n_gnbs: int = 1,
                     gnb_id_base: int = 1) -> Attacher:
        from fivecore.ran.app import RanSim
        from fivecore.ran.config import load_ran_config
        from fivecore.ran.userplane import GnbUserPlane

        rc = net.ran_config(first_imsi)
        rc["gnb"]["idBase"] = gnb_id_base
        rc["gnb"]["name"] = f"bench-gnb-{gnb_id_base}"
        rc["gnb"]["localAddress"] = f"{net.plan.gnb_prefix}.1"
        sim = RanSim(load_ran_config(rc), n_gnbs, n_ues)
        amfs = getattr(net, "member_ngap", None) or [net.ngap]
        for i, g in enumerate(sim.gnbs):
            # an AMF Set: each gNB's NG connection goes to one member, round-robin (so do its UEs)
            g.cfg.amf_host, g.cfg.amf_port = amfs[i % len(amfs)]
        ups = []
        try:
            await sim.start()
            for i, g in enumerate(sim.gnbs):
                up = GnbUserPlane(g, f"{net.plan.gnb_prefix}.{(gnb_id_base + i - 1) % 250 + 1}")
                await up.start()
                ups.append(up)
        except BaseException:
            for up in ups:
                up.close()
            await sim.stop()
            raise
        s = net.state["slices"][0]
        snssai = (int(s["sst"]), int(s["sd"], 16) if s.get("sd") else None)
        return cls(sim, ups, net.state["dnn"], snssai)

    async def close(self) -> None:
        for up in self.gnb_ups:
            up.close()
        await self.sim.stop()

    async def attach(self, i: int) -> None:
        """Register UE ``i`` with follow-on request, then open PDU session 1 (TS 23.502
        §4.2.2.2.2 registration, §4.3.2.2.1 UE-requested PDU session establishment)."""
        from fivecore.ran.ue import UeState
        from fivecore.ran.userplane import EV_ESTABLISHED, UeSm

        ru = self.sim.ues[i]
        if getattr(ru.gnb, "overloaded", False):
            # TS 38.413 §8.7.6 / TS 38.331 §5.3.3: a gNB told Overload Start rejects new RRC
            # connections for mobile-originated signalling; the UE's attempt fails at once
            raise AttachError("rejected by the gNB: AMF overload (NGAP Overload Start)")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        requested = False

        def on_sm(ev: str, s: Any) -> None:
            if not fut.done() and ev != "modified":
                fut.set_result((ev, s))

        def request_session() -> None:
            nonlocal requested
            requested = True
            ru.ue.sm = UeSm(on_sm)
            ru.gnb.uplink_nas(ru, ru.ue.ul_sm(ru.ue.sm.establish(1, self.dnn, self.snssai), 1, 1, self.dnn,
                                              self.snssai))

        # The request goes out as the UE becomes REGISTERED, right after its Registration
        # Complete (the same radio burst, so the gNB's SCTP bundles them), not one event-loop
        # turn later when this coroutine resumes.
        self._on_registered[id(ru)] = request_session
        try:
            state = await self.sim.register(ru, self.reg_timeout, follow_on=True)
        finally:
            self._on_registered.pop(id(ru), None)
        if state != UeState.REGISTERED:
            raise AttachError(f"registration ended {state.name} (5GMM cause {ru.ue.last_cause})")
        if not requested:
            request_session()
        try:
            ev, s = await await_within(fut, self.sm_timeout)
        except TimeoutError:
            raise AttachError(f"PDU session: no answer within {self.sm_timeout}s") from None
        if ev != EV_ESTABLISHED or s.ipv4 is None:
            raise AttachError(f"PDU session {ev} (5GSM cause {s.cause})")

    async def park(self, i: int) -> None:
        """Send UE ``i`` to CM-IDLE (gNB-requested UE Context Release, TS 38.413 §8.3.2)."""
        ru = self.sim.ues[i]
        ru.gnb.release_request(ru)


async def attach_run(net: BenchNetwork, n_ues: int, rate: float, *, first_index: int = 0, gnbs: int = 1,
                     gnb_id_base: int = 1, arrivals: str = "uniform", timeout: float = 60.0,
                     progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """``n_ues`` attaches offered at ``rate``/s against a running network; the result row."""
    first_imsi = f"{int(FIRST_IMSI) + first_index:015d}"
    att = await Attacher.create(net, n_ues, first_imsi, gnbs, gnb_id_base)
    try:
        # the simulator allocates many small objects: keep full collections from walking its
        # start-up objects in the middle of a run (a latency spike that would be the load
        # generator's, not the core's)
        settle_heap()
        procs = ProcessSet({**net.pids, "simulator": os.getpid()})
        done = 0

        def on_done(_o: Any) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done)

        try:
            with PeakRss(procs) as peak:
                before = procs.snapshot()
                res = await open_loop(n_ues, rate, att.attach, arrivals=arrivals,  # type: ignore[arg-type]
                                      timeout=timeout, on_done=on_done)
                after = procs.snapshot()
        finally:
            gc.unfreeze()
        return attach_row(res, after.cpu_delta(before),
                          after.rss_mb(), peak.peak_mb(), core=list(net.pids))
    finally:
        await att.close()


def attach_row(res: DriveResult, cpu_s: dict[str, float], rss_mb: dict[str, float],
               peak_rss_mb: dict[str, float], core: list[str]) -> dict[str, Any]:
    """The JSON object ``fivecore bench attach --json`` prints for one offered rate."""
    ok = res.ok
    n_ok = len(ok)
    core_cpu = sum(v for k, v in cpu_s.items() if k in core)
    lags = summarize_ms(o.start_lag for o in res.outcomes)
    return {
        "offered_rate": res.offered_rate,
        "attaches": n_ok,
        "failed": len(res.failed),
        "seconds": round(res.span, 3),
        "attaches_per_second": round(res.throughput(), 1),
        "latency_ms": summarize_ms(o.latency for o in ok),
        "core_cpu_ms_per_attach": round(1000 * core_cpu / n_ok, 3) if n_ok else None,
        "cpu_ms_per_attach": {k: round(1000 * v / n_ok, 3) if n_ok else None for k, v in cpu_s.items()},
        "cpu_utilisation": {k: round(v / res.span, 3) if res.span else None for k, v in cpu_s.items()},
        "rss_mb": rss_mb,
        "peak_rss_mb": peak_rss_mb,
        "driver_lag_ms": {"p99": lags["p99"], "max": lags["max"]},
        "errors": res.errors(),
    }


def network_for(slot: int = 0, log_level: str = "warning", amf_set: int = 1) -> BenchNetwork:
    """The network a run starts: ``fivecore up`` alone, or with ``amf_set - 1`` further
    control-plane processes (:class:`~fivecore.benchkit.network.AmfSetNetwork`)."""
    from fivecore.benchkit.network import AmfSetNetwork, NetPlan

    plan = NetPlan.slot(slot, log_level=log_level)
    return AmfSetNetwork(plan, members=amf_set) if amf_set > 1 else BenchNetwork(plan)


def layout_of(net: BenchNetwork | None, amf_set: int = 1) -> str:
    members = getattr(net, "members", amf_set)
    if members > 1:
        return (f"AMF Set of {members}: fivecore up (NRF, control plane, UPF) plus {members - 1} further "
                "control-plane process(es) (fivecore nf udr udm ausf pcf nssf amf smf), one SQLite file, "
                "one UPF; gNBs round-robin over the AMFs; simulator in the benchmark process")
    return "fivecore up: control plane in one process, UPF in its own; simulator in the benchmark process"


async def attach_bench(n_ues: int | Sequence[int], rates: Sequence[float], *, gnbs: int = 1,
                       arrivals: str = "uniform", net: BenchNetwork | None = None, log_level: str = "warning",
                       slot: int = 0, amf_set: int = 1, say: Callable[[str], None] | None = None,
                       progress_factory: Callable[[float, int], Callable[[int], None]] | None = None,
                       on_run: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``n_ues`` attaches (or ``n_ues[k]`` for rate k) at each offered rate in turn, each
    on a freshly started core — or all on ``net`` when one is given; the report. Its top level
    is the first rate's row (what ``--json`` promises), all rows are in ``runs``. ``amf_set``
    members (fresh cores only) each get at least one gNB."""
    counts = [n_ues] * len(rates) if isinstance(n_ues, int) else list(n_ues)
    if len(counts) != len(rates):
        raise ValueError("one UE count per rate")
    runs: list[dict[str, Any]] = []
    if net is not None:
        # one core for the whole sweep (the caller's, e.g. under a profiler): fresh subscribers
        # and gNB ids for every rate
        if say:
            say(f"provisioning {sum(counts)} subscribers")
        await asyncio.to_thread(net.provision, sum(counts))
        first = 0
        for k, (rate, n) in enumerate(zip(rates, counts, strict=True)):
            if say:
                say(f"{n} attaches offered at {rate:g}/s")
            row = await attach_run(net, n, rate, first_index=first, gnbs=gnbs, gnb_id_base=1 + k * gnbs,
                                   arrivals=arrivals, progress=progress_factory(rate, n) if progress_factory else None)
            first += n
            runs.append(row)
            if on_run is not None:
                on_run(row)
            await asyncio.sleep(0.5)  # let the core finish the tail (PDU Session Resource Setup Responses)
    else:
        # a fresh core for every rate: an overloaded run must not leave a backlog (or a lost
        # PFCP association) to the next one
        for rate, n in zip(rates, counts, strict=True):
            fresh = network_for(slot, log_level, amf_set)
            gnbs = max(gnbs, amf_set)
            if say:
                say(f"starting the core (fivecore up{f', AMF Set of {amf_set}' if amf_set > 1 else ''}) "
                    f"for {rate:g}/s")
            await asyncio.to_thread(fresh.start)
            try:
                await asyncio.to_thread(fresh.provision, n)
                if say:
                    say(f"{n} attaches offered at {rate:g}/s")
                row = await attach_run(fresh, n, rate, gnbs=gnbs, arrivals=arrivals,
                                       progress=progress_factory(rate, n) if progress_factory else None)
            finally:
                await asyncio.to_thread(fresh.stop)
            runs.append(row)
            if on_run is not None:
                on_run(row)
    return {
        **runs[0],
        "ues": counts[0] if len(set(counts)) == 1 else counts,
        "rates": [r["offered_rate"] for r in runs],
        "runs": runs,
        "layout": layout_of(net, amf_set),
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


async def scale_bench(n_ues: int, *, rate: float = 200.0, gnbs: int = 4, sessions: bool = True,
                      layout: str = "split", log_level: str = "warning", timeout: float = 120.0, slot: int = 0,
                      max_in_flight: int | None = 64,
                      say: Callable[[str], None] | None = None,
                      progress: Callable[[int], None] | None = None,
                      stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Register ``n_ues`` UEs (each with a PDU session unless ``sessions`` is False), leave them
    CM-IDLE, and report the memory each process holds per UE. At most ``max_in_flight``
    attaches are under way at once.

    Memory per UE is (RSS with every UE registered and idle - RSS before the first UE) / UEs,
    per process; the simulator's baseline is taken before its UEs are built.

    Setting ``stop`` (SIGINT/SIGTERM in the CLI) ends the run early: no new attach starts,
    those under way are abandoned, and the report covers what was reached (``interrupted``).
    """
    from fivecore.benchkit.network import NetPlan, SplitNetwork
    from fivecore.benchkit.procs import MB

    plan = NetPlan.slot(slot, n_ues, log_level=log_level)
    net: BenchNetwork = SplitNetwork(plan) if layout == "split" else BenchNetwork(plan)
    if say:
        say(f"starting the core ({'one process per NF' if layout == 'split' else 'fivecore up'})")
    await asyncio.to_thread(net.start)
    try:
        if say:
            say(f"provisioning {n_ues:,} subscribers")
        await asyncio.to_thread(net.provision, n_ues)
        gc.collect()
        procs = ProcessSet({**net.pids, "simulator": os.getpid()})
        await asyncio.sleep(1.0)
        before = procs.snapshot()
        att = await Attacher.create(net, n_ues, FIRST_IMSI, gnbs)
        held = 0
        try:
            async def op(i: int) -> None:
                nonlocal held
                if sessions:
                    ru = att.sim.ues[i]
                    if ru.gnb.overloaded:
                        # TS 38.413 §8.7.6: while the AMF is in overload the gNB rejects new RRC
                        # connections for signalling and the UE tries again later. This run fills
                        # the network, so the UE waits for Overload Stop (within the op timeout)
                        # instead of counting as a failure, as the attach benchmark does.
                        held += 1
                        while ru.gnb.overloaded:
                            await asyncio.sleep(0.2)
                    await att.attach(i)
                    await att.park(i)
                else:
                    from fivecore.ran.ue import UeState

                    ru = att.sim.ues[i]
                    state = await att.sim.register(ru, att.reg_timeout)
                    if state != UeState.REGISTERED:
                        raise AttachError(f"registration ended {state.name} (5GMM cause {ru.ue.last_cause})")

            done = 0

            def on_done(_o: Any) -> None:
                nonlocal done
                done += 1
                if progress is not None:
                    progress(done)

            if say:
                say(f"registering {n_ues:,} UEs at {rate:g}/s" + (" with a PDU session each" if sessions else ""))
            cpu0 = procs.snapshot()
            # filling, not measuring latency: cap what is in flight so a slow moment of the shared
            # machine cannot pile up registrations until they time out
            res = await open_loop(n_ues, rate, op, timeout=timeout, on_done=on_done, max_in_flight=max_in_flight,
                                  stop=stop)
            if res.interrupted and say:
                say(f"interrupted after {len(res.ok):,} of {n_ues:,} UEs; measuring what was reached")
            # the last UE Context Releases are still in flight when the last accept arrives
            for _ in range(100):
                if not any(g.connected for g in att.sim.gnbs):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5 if res.interrupted else 2.0)
            gc.collect()
            after = procs.snapshot()
            idle = sum(1 for ru in att.sim.ues if not ru.ue.connected and ru.ue.state.name == "REGISTERED")
            n2 = [att.sim.gnb_view(g) for g in att.sim.gnbs]
        finally:
            try:
                # bounded: a wedged association must not keep the benchmark from stopping
                await asyncio.wait_for(att.close(), 30.0)
            except TimeoutError:
                pass
    finally:
        await asyncio.to_thread(net.stop)
    n_ok = len(res.ok)
    core = [k for k in after.stats if k != "simulator"]
    grow = {k: after.stats[k].rss - before.stats[k].rss for k in after.stats if k in before.stats}
    cpu = after.cpu_delta(cpu0)
    return {
        "ues": n_ues,
        "registered": n_ok,
        "failed": len(res.failed),
        "idle": idle,
        "sessions": sessions,
        "offered_rate": rate,
        "max_in_flight": max_in_flight,
        "attaches_per_second": round(res.throughput(), 1),
        "latency_ms": summarize_ms(o.latency for o in res.ok),
        "rss_mb_before": before.rss_mb(),
        "rss_mb": after.rss_mb(),
        "kb_per_ue": {k: round(v / 1024 / n_ok, 2) if n_ok else None for k, v in grow.items()},
        "core_rss_gb": round(sum(after.stats[k].rss for k in core) / 1024 / MB, 3),
        "core_cpu_ms_per_attach": round(1000 * sum(cpu.get(k, 0.0) for k in core) / n_ok, 3) if n_ok else None,
        "errors": res.errors(),
        "interrupted": res.interrupted,
        "held_for_overload": held,
        "n2": [{k: g[k] for k in ("id", "ready", "ngap_tx", "ngap_rx", "ngap_tx_dropped", "associations_lost",
                                  "reconnects")} for g in n2],
        "layout": layout,
        "machine": machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
