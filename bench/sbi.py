"""SBI benchmarks (issue 5): NRF discovery over HTTP/2, 5G-AKA vector generation in-process and
over HTTP/2, bulk import of subscribers. Prints a Markdown table for docs/benchmarks.md.

    .venv/bin/python bench/sbi.py [--quick] [--harness]

--harness also runs the shared h2load harness (/work/shared/tools/nrf-bench/run.sh, i.e.
../shared/tools/nrf-bench relative to the repo) against a fivecore NRF process.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fivecore.runtime import install_fast_loop

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared"
SNN = "5G:mnc001.mcc001.3gppnetwork.org"


async def _hammer(fn, total: int, concurrency: int) -> float:
    """Run ``fn()`` ``total`` times with ``concurrency`` workers; returns calls per second."""
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await fn()

    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return total / (time.perf_counter() - t0)


def bench_nrf_discovery(work: Path, n: int, runs: int, harness: bool) -> dict:
    from fivecore.nf.common.launch import NfProcess, free_port
    from fivecore.transport.http2 import Http2Client

    port = free_port()
    cfg = {"logging": {"level": "warning"}, "nrf": {"sbi": {"address": "127.0.0.1", "port": port}}}
    nrf = NfProcess("nrf", cfg, work).start()
    out: dict = {}
    try:
        prof = json.loads((SHARED / "tools" / "nrf-bench" / "ausf_profile.json").read_text())
        url = f"{nrf.uri}/nnrf-disc/v1/nf-instances?target-nf-type=AUSF&requester-nf-type=AMF"

        async def run() -> list[float]:
            async with Http2Client(max_connections=4, timeout=10) as c:
                r = await c.request("PUT", f"{nrf.uri}/nnrf-nfm/v1/nf-instances/{prof['nfInstanceId']}", json=prof)
                assert r.status in (200, 201), r.status

                async def one() -> None:
                    r = await c.request("GET", url)
                    assert r.status == 200

                await _hammer(one, 2000, 64)  # warm-up
                return [await _hammer(one, n, 64) for _ in range(runs)]

        install_fast_loop()
        rates = asyncio.run(run())
        out["nrf_disc_rps"] = statistics.median(rates)
        if harness:
            script = SHARED / "tools" / "nrf-bench" / "run.sh"
            env = {**os.environ, "N": str(n), "C": "4", "M": "20"}
            res = subprocess.run(["bash", str(script), str(nrf.pid), nrf.uri, str(runs)], capture_output=True,
                                 text=True, env=env, timeout=600)
            text = res.stdout + res.stderr
            out["harness_output"] = text
            m = re.search(r"MEDIAN req/s=([0-9.]+) nrf_cpu%=([0-9.]+)", text)
            if m:
                out["harness_rps"] = float(m.group(1))
                out["harness_cpu"] = float(m.group(2))
    finally:
        nrf.stop()
    return out


def bench_aka_inprocess(work: Path, n: int) -> float:
    from fivecore.config import load_config
    from fivecore.nf.ausf import AusfApp
    from fivecore.nf.common import LocalRegistry
    from fivecore.nf.nrf import NrfApp
    from fivecore.nf.udm import UdmApp
    from fivecore.nf.udr import UdrApp
    from fivecore.store import Subscriber

    async def run() -> float:
        cfg = load_config({"db_uri": f"sqlite:///{work / 'inproc.db'}", "udr": {"mgmt": {"enabled": False}}})
        local = LocalRegistry()
        apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local), AusfApp(cfg, local=local)]
        for a in apps:
            await a.start(serve=False)
        apps[1].store.add_many([Subscriber(f"imsi-00101{i:010d}", k=os.urandom(16), opc=os.urandom(16)) for i in range(100)])
        ausf = apps[3]

        async def one() -> None:
            r = await ausf.client.call("POST", "/nausf-auth/v1/ue-authentications",
                                       body={"supiOrSuci": f"imsi-00101{random.randrange(100):010d}", "servingNetworkName": SNN})
            assert r.status == 201, r.json()

        await _hammer(one, 200, 8)
        rate = await _hammer(one, n, 8)
        for a in reversed(apps):
            await a.stop()
        return rate

    install_fast_loop()
    return asyncio.run(run())


def bench_aka_http2(work: Path, n: int) -> float:
    from fivecore.nf.common.launch import Core
    from fivecore.transport.http2 import Http2Client

    core = Core(work / "core").start()
    try:
        async def run() -> float:
            async with Http2Client(timeout=10) as c:
                subs = [{"imsi": f"00101{i:010d}", "k": os.urandom(16).hex(), "opc": os.urandom(16).hex()} for i in range(100)]
                r = await c.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers-bulk", json={"subscribers": subs},
                                    headers={"authorization": "Bearer test-token"})
                assert r.status == 201
                url = core.uri("ausf") + "/nausf-auth/v1/ue-authentications"

                async def one() -> None:
                    r = await c.request("POST", url, json={"supiOrSuci": f"imsi-00101{random.randrange(100):010d}",
                                                           "servingNetworkName": SNN})
                    assert r.status == 201, r.json()

                await _hammer(one, 200, 16)
                return await _hammer(one, n, 16)

        install_fast_loop()
        return asyncio.run(run())
    finally:
        core.stop()


def bench_import(work: Path, n: int) -> float:
    from fivecore.cli.subscriber import do_import
    from fivecore.store import SubscriberStore

    path = work / "subs.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["imsi", "k", "opc"])
        for i in range(n):
            w.writerow([f"00101{i:010d}", os.urandom(16).hex(), os.urandom(16).hex()])
    store = SubscriberStore(f"sqlite:///{work / 'import.db'}")
    t0 = time.perf_counter()
    created = do_import(store, path, "default", None, False, progress=False)
    dt = time.perf_counter() - t0
    assert created == n == store.count()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--harness", action="store_true", help="also run ../shared/tools/nrf-bench/run.sh (needs h2load)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    q = args.quick
    sys.path.insert(0, str(ROOT / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        disc = bench_nrf_discovery(work, 5000 if q else 50000, args.runs, args.harness)
        aka_in = bench_aka_inprocess(work, 500 if q else 3000)
        aka_h2 = bench_aka_http2(work, 300 if q else 2000)
        imp = bench_import(work, 10000 if q else 100000)
    n_imp = 10000 if q else 100000
    print("| measurement | result | target |")
    print("|---|---|---|")
    print(f"| NRF discovery, one client process, HTTP/2 (64 streams) | {disc['nrf_disc_rps']:,.0f} req/s | >= 5,000 req/s |")
    if "harness_rps" in disc:
        print(f"| NRF discovery, shared h2load harness (N=50000 C=4 M=20) | {disc['harness_rps']:,.0f} req/s at "
              f"{disc['harness_cpu']:.0f} % NRF CPU = {disc['harness_rps'] / 10200:.2f} x Open5GS (10,200) | report |")
    print(f"| 5G-AKA vector generation AUSF+UDM+UDR in-process | {aka_in:,.0f} /s | >= 1,000 /s |")
    print(f"| 5G-AKA vector generation AUSF+UDM+UDR over HTTP/2 (4 processes) | {aka_h2:,.0f} /s | report |")
    print(f"| bulk import of {n_imp:,} subscribers (CSV, SQLite) | {imp:.1f} s | <= 30 s |")
    if "harness_output" in disc:
        print("\n```\n" + disc["harness_output"].strip() + "\n```")


if __name__ == "__main__":
    main()
