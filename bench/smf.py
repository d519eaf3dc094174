"""SMF benchmark: N4 session establishment and deletion rate from the SMF's side.

The real SMF code path — :func:`fivecore.nf.smf.pfcp.session_establishment` (PDR/FAR/QER/URR
for one PDU session), the :class:`fivecore.nf.smf.pfcp.N4` endpoint (asyncio UDP, T1/N1) and
the response parsing — against a real UPF process (``python -m fivecore.nf.upf``) on its own
loopback address, with ``--window`` requests in flight. Reports sessions/s for establishment
and deletion and the SMF process's CPU time per session.

    sudo .venv/bin/python bench/smf.py --sessions 5000 --window 64 [--markdown]

Needs root (the UPF opens a TUN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from fivecore.nf.smf import pfcp as n4mod
from fivecore.nf.smf.context import Ipv4Pool, SmfContext


def sh(*args: str, check: bool = True) -> None:
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {r.stderr.strip()}")


async def run(n: int, window: int, upf_addr: str, smf_addr: str) -> dict:
    peer = n4mod.UpfPeer(upf_addr)
    n4 = n4mod.N4(smf_addr, 8805, [peer], heartbeat_interval=30, t1=3, n1=3)
    await n4.start()
    try:
        for _ in range(100):
            if peer.associated:
                break
            await asyncio.sleep(0.1)
        assert peer.associated, "no PFCP association with the UPF"
        ctx = SmfContext()
        pool = Ipv4Pool("10.201.0.0/16")
        sms = []
        for i in range(n):
            sm = ctx.new(f"imsi-0010100{i:08d}", 1, "internet", {"sst": 1})
            sm.ue_ipv4 = pool.allocate()
            sm.upf = peer
            sms.append(sm)
        sem = asyncio.Semaphore(window)

        async def est(sm) -> None:  # noqa: ANN001
            async with sem:
                req = n4mod.session_establishment(sm, seq=n4.next_seq(), node_id=smf_addr, cp_ip=smf_addr)
                rsp = await n4.request(peer, req)
                sm.upf_seid, sm.ul_teid, sm.ul_ip = n4mod.parse_establishment_response(rsp)

        async def dele(sm) -> None:  # noqa: ANN001
            async with sem:
                rsp = await n4.request(peer, n4mod.session_deletion(sm, seq=n4.next_seq()))
                n4mod.check_cause(rsp, "deletion")

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(est(sm) for sm in sms))
        t1, cpu1 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(dele(sm) for sm in sms))
        t2, cpu2 = time.perf_counter(), time.process_time()
        return {
            "sessions": n, "window": window,
            "establish_per_s": round(n / (t1 - t0)), "delete_per_s": round(n / (t2 - t1)),
            "smf_cpu_us_per_establish": round((cpu1 - cpu0) / n * 1e6),
            "smf_cpu_us_per_delete": round((cpu2 - cpu1) / n * 1e6),
            "retransmissions": n4.stats.get("retransmissions", 0),
        }
    finally:
        await n4.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=5000)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (the UPF opens a TUN)")
    tag = random.randint(1, 200)
    upf_addr, smf_addr, tun = f"127.210.{tag}.7", f"127.210.{tag}.4", f"fcbupf{tag}"
    work = Path(tempfile.mkdtemp(prefix="smf-bench-"))
    sh("ip", "tuntap", "add", "dev", tun, "mode", "tun")
    sh("ip", "link", "set", tun, "up")
    cfg = work / "upf.yaml"
    cfg.write_text(yaml.safe_dump({"upf": {"pfcp_address": upf_addr, "gtpu_address": upf_addr, "tun_name": tun,
                                           "tun_create": False, "subnet": "10.201.0.0/16"}}))
    upf = subprocess.Popen([sys.executable, "-m", "fivecore.nf.upf", "--config", str(cfg), "--log-level", "warning"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        res = asyncio.run(run(args.sessions, args.window, upf_addr, smf_addr))
    finally:
        upf.terminate()
        upf.wait(10)
        sh("ip", "link", "del", tun, check=False)
    if args.markdown:
        print(f"| N4 session establishment (SMF side, window {res['window']}) | {res['establish_per_s']}/s | "
              f"{res['smf_cpu_us_per_establish']} µs SMF CPU each |")
        print(f"| N4 session deletion | {res['delete_per_s']}/s | {res['smf_cpu_us_per_delete']} µs SMF CPU each |")
    else:
        print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
