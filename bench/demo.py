#!/usr/bin/env python3
"""``fivecore demo`` at a few sizes: per-step time and latency, end to end on this host.

    sudo .venv/bin/python bench/demo.py [--ues 10,100] [--json]

Each size is one full demo (start the core, provision, NG Setup, register, PDU sessions, ping,
TCP, metrics check, teardown) in a fresh child process; the numbers are the demo's own report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any


def run(n: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "demo", "--ues", str(n), "--json"],
                       capture_output=True, text=True, timeout=1800)
    report = json.loads(r.stdout)
    report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ues", default="10,100")
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args()
    reports = [run(int(n)) for n in ns.ues.split(",")]
    if ns.json:
        print(json.dumps(reports, indent=2))
        return 0 if all(r["passed"] for r in reports) else 1
    print("| UEs | passed | wall s | step | s | p50 ms | p99 ms | result |")
    print("|---:|---|---:|---|---:|---:|---:|---|")
    for r in reports:
        for s in r["steps"]:
            lat = s["latency_ms"]
            print(f"| {r['ues']} | {r['passed']} | {r['wall_seconds']} | {s['name']} | {s['seconds']:.2f} | "
                  f"{lat['p50'] if lat['p50'] is not None else '-'} | {lat['p99'] if lat['p99'] is not None else '-'} | "
                  f"{'pass' if s['passed'] else 'FAIL ' + str(s['reason'])} |")
        print(f"| {r['ues']} | | | TCP Mbit/s | {r.get('tcp_mbit_s')} | | | |")
    return 0 if all(r["passed"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
