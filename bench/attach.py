#!/usr/bin/env python3
"""Attach benchmark (issue 9): registration + 5G-AKA + security mode + one PDU session per UE,
open-loop arrivals at several offered rates against the core as ``fivecore up`` runs it.

    sudo .venv/bin/python bench/attach.py [--rates 50,100,250,500] [--seconds 8] [--json] [--plot FILE]

The same machinery as ``fivecore bench attach`` (:mod:`fivecore.benchkit`); ``make bench``
(bench/run_all.py) runs this sweep and writes the docs section and the plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="50,100,250,500", help="offered attaches per second, comma-separated")
    ap.add_argument("--seconds", type=float, default=8.0, help="offered seconds per rate (at least 200 attaches)")
    ap.add_argument("--gnbs", type=int, default=1)
    ap.add_argument("--arrivals", default="uniform", choices=["uniform", "poisson"])
    ap.add_argument("--slot", type=int, default=0, help="address set 0..7 (run beside another benchmark)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plot", default="", help="also write the latency-vs-load PNG here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/attach.py needs root (TUN device, raw-IP SCTP)", file=sys.stderr)
        return 2
    from fivecore.benchkit.attach import attach_bench
    from fivecore.benchkit.report import attach_table_md, plot_latency
    from fivecore.cli.bench import _run

    rates = [float(x) for x in args.rates.split(",") if x]
    counts = [max(200, int(r * args.seconds)) for r in rates]

    def say(msg: str) -> None:
        print(f"[attach] {msg}", file=sys.stderr, flush=True)

    rep = _run(attach_bench(counts, rates, gnbs=args.gnbs, arrivals=args.arrivals, slot=args.slot, say=say))
    if args.plot:
        plot_latency(rep["runs"], Path(args.plot))
    print(json.dumps(rep, indent=1) if args.json else attach_table_md(rep["runs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
