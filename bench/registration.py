"""Registration benchmark: NRF, UDR, UDM, AUSF and AMF as five processes, the RAN simulator here.

Measures, over real NGAP/SCTP and SBI HTTP/2:

- sustained registrations/s: N fresh UEs (null / Profile A / Profile B SUCI in turn) registered
  with ``--concurrency`` in flight, from first Initial UE Message to the last Registration Accept;
- latency p50/p99 at that full load, and at half of it (``--half-ues`` more UEs started at a
  fixed rate of half the measured throughput);
- AMF CPU per registration (utime+stime of the AMF process / registrations), and the same for
  the other NFs, so the cost of the whole chain is visible;
- RSS per registered idle UE in the AMF (RSS growth / UEs, after they all went CM-IDLE).

    .venv/bin/python bench/registration.py --ues 10000            # needs root (userspace SCTP)
    .venv/bin/python bench/registration.py --ues 2000 --json

Run on a quiet machine: the numbers include everything else running on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fivecore.nf.amf.launch import FIRST_IMSI, AmfCore
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.runtime import install_fast_loop

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return 1000 * v[min(len(v) - 1, int(len(v) * q))]


async def run(args: argparse.Namespace, core: AmfCore) -> dict[str, Any]:
    n, m = args.ues, args.half_ues
    out: dict[str, Any] = {"ues": n, "gnbs": args.gnbs, "concurrency": args.concurrency, "cpus": os.cpu_count()}
    sim = RanSim(load_ran_config(core.ran_config(scheme_cycle=[0, 1, 2])), n_gnbs=args.gnbs, n_ues=n + m)
    await sim.start()
    try:
        full, half = sim.ues[:n], sim.ues[n:]
        stats0 = await core.acounters_full()
        cpu0 = {name: cpu_seconds(p.pid) for name, p in core.procs.items()}
        sim_cpu0 = cpu_seconds(os.getpid())
        res = await sim.register_all(full, concurrency=args.concurrency, timeout=120)
        lat_full = list(sim.latencies)
        cpu1 = {name: cpu_seconds(p.pid) for name, p in core.procs.items()}
        ok = res["ok"]
        rate = ok / res["seconds"]
        out["sustained"] = {"ok": ok, "failed": len(res["failed"]), "seconds": round(res["seconds"], 2),
                            "registrations_per_s": round(rate, 1),
                            "p50_ms": pct(lat_full, 0.5), "p99_ms": pct(lat_full, 0.99)}
        out["cpu_ms_per_registration"] = {k: round(1000 * (cpu1[k] - cpu0[k]) / max(ok, 1), 2) for k in cpu0}
        out["cpu_ms_per_registration"]["simulator"] = round(1000 * (cpu_seconds(os.getpid()) - sim_cpu0) / max(ok, 1), 2)
        # wait until every UE was released (CM-IDLE), then look at the AMF's memory
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = await core.acounters_full()
            if st["counters"].get("release_complete", 0) - stats0["counters"].get("release_complete", 0) >= ok:
                break
            await asyncio.sleep(0.2)
        st = await core.acounters_full()
        out["amf_rss_kb"] = {"before": stats0["rss_kb"], "after": st["rss_kb"]}
        out["amf_bytes_per_idle_ue"] = round(1024 * (st["rss_kb"] - stats0["rss_kb"]) / max(ok, 1))
        out["amf_ue_states"] = st["ue_states"]
        if m:
            sim.latencies.clear()
            target = rate / 2
            res2 = await sim.register_all(half, concurrency=max(8, args.concurrency), timeout=120, rate=target)
            out["half_load"] = {"rate_per_s": round(target, 1), "ok": res2["ok"], "failed": len(res2["failed"]),
                                "achieved_per_s": round(res2["ok"] / res2["seconds"], 1),
                                "p50_ms": pct(sim.latencies, 0.5), "p99_ms": pct(sim.latencies, 0.99)}
        out["gnb_sctp"] = [sim.gnb_view(g)["sctp"] for g in sim.gnbs]
        if args.deregister:
            t0 = time.perf_counter()
            d = await sim.deregister_all(concurrency=args.concurrency, timeout=120)
            out["deregistration"] = {"ok": d["ok"], "per_s": round(d["ok"] / (time.perf_counter() - t0), 1)}
    finally:
        await sim.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ues", type=int, default=10000)
    ap.add_argument("--half-ues", type=int, default=2000, help="UEs for the half-load latency run (0: skip)")
    ap.add_argument("--gnbs", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--deregister", action="store_true", help="also time de-registration of everyone")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/registration.py needs root (userspace SCTP over raw sockets)", file=sys.stderr)
        return 2
    install_fast_loop()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="fivecore-bench-reg-"))
    core = AmfCore.launch(work)
    try:
        t0 = time.perf_counter()
        core.provision(args.ues + args.half_ues, first_imsi=FIRST_IMSI)
        prov = time.perf_counter() - t0
        out = asyncio.run(run(args, core))
        out["provisioning_s"] = round(prov, 1)
    finally:
        core.stop()
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
