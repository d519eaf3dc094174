#!/usr/bin/env python3
"""The simulator's own CPU per attach, and a check that its uplink octets did not change.

    sudo .venv/bin/python bench/sim_replay.py record --ues 300 --rate 150 --out /tmp/attaches.pkl [--slot 1]
    .venv/bin/python bench/sim_replay.py replay /tmp/attaches.pkl [--reps 5]

``record`` runs attaches against ``fivecore up`` (as ``fivecore bench attach`` does) with the
simulator's random choices seeded, keeping every NGAP PDU of the gNB. ``replay`` feeds the
recorded downlink to a fresh, socket-less simulator (:mod:`fivecore.ran.replay`) and reports
the CPU per attach of the simulator's code and how many uplink PDUs are identical to the
recording. A recording made with one version of the simulator and replayed with another is
the A/B test of a speed change: every uplink PDU must stay identical. Run the replay with
``PYTHONPATH=<other checkout>/src`` to measure another version (one that has
``fivecore.ran.replay``) on the same recording.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


async def _record(n: int, rate: float, slot: int, seed: int) -> object:
    from fivecore.benchkit.network import BenchNetwork, NetPlan
    from fivecore.ran.replay import record

    net = BenchNetwork(NetPlan.slot(slot))
    await asyncio.to_thread(net.start)
    try:
        await asyncio.to_thread(net.provision, n)
        return await record(net, n, rate, seed)
    finally:
        await asyncio.to_thread(net.stop)


async def _replays(rec: object, reps: int) -> list[tuple[float, int, int]]:
    from fivecore.ran.replay import replay

    out = []
    for _ in range(reps + 1):  # the first one warms up the codecs' caches and is not counted
        r = await replay(rec)  # type: ignore[arg-type]
        out.append((r.cpu_seconds, r.attaches_ok, r.identical(rec)))  # type: ignore[arg-type]
    return out[1:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--ues", type=int, default=300)
    r.add_argument("--rate", type=float, default=150.0)
    r.add_argument("--slot", type=int, default=1)
    r.add_argument("--seed", type=int, default=7)
    r.add_argument("--out", required=True)
    p = sub.add_parser("replay")
    p.add_argument("file")
    p.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    if args.cmd == "record":
        if os.geteuid() != 0:
            print("record needs root (TUN device, raw-IP SCTP)", file=sys.stderr)
            return 2
        from fivecore.runtime import install_fast_loop

        install_fast_loop()
        rec = asyncio.run(_record(args.ues, args.rate, args.slot, args.seed))
        Path(args.out).write_bytes(pickle.dumps(rec))
        print(f"recorded {rec.n_ues} attaches, {len(rec.uplink())} uplink NGAP PDUs -> {args.out}")  # type: ignore[attr-defined]
        return 0
    rec = pickle.loads(Path(args.file).read_bytes())
    runs = asyncio.run(_replays(rec, args.reps))
    n_ul = len(rec.uplink())
    cpu = [1000 * c / rec.n_ues for c, _, _ in runs]
    print(f"{rec.n_ues} attaches replayed {len(runs)} times: simulator CPU per attach "
          f"min {min(cpu):.3f} ms, median {statistics.median(cpu):.3f} ms")
    bad = [(ok, same) for _, ok, same in runs if ok != rec.n_ues or same != n_ul]
    print(f"uplink identical to the recording: {runs[-1][2]} of {n_ul} PDUs; attaches completed {runs[-1][1]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
