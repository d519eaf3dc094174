"""Sans-I/O SCTP per-message CPU on a one-path association (the N2 hot path), and on two paths.

    .venv/bin/python bench/sctp_paths.py [--messages 20000] [--runs 5] [--package PKG] [--json]

Two :class:`Endpoint` objects joined in memory (no sockets, no event loop): the client sends
NGAP-sized messages (100-500 bytes) and the server answers each, every packet going through
CRC32c, demultiplexing, DATA/SACK processing and the timers, exactly as the userspace
backend drives them. Reports CPU microseconds per request/response exchange (both sides'
work; process time, so other load on a shared machine disturbs it less; the minimum of the
runs is the figure to compare).

``--package`` imports another copy of the package (e.g. one extracted from an older commit
into a directory on ``PYTHONPATH``) so the same workload compares before and after a change:

    mkdir -p /tmp/old/sctp_old && for f in association endpoint packet config; do
      git show HEAD~1:src/fivecore/transport/sctp/$f.py > /tmp/old/sctp_old/$f.py; done
    touch /tmp/old/sctp_old/__init__.py
    PYTHONPATH=/tmp/old .venv/bin/python bench/sctp_paths.py --package sctp_old

``--two-paths`` runs the same exchange with both ends multi-homed (two addresses each).
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

C1, C2 = b"\x0a\x00\x00\x01", b"\x0a\x01\x00\x01"
S1, S2 = b"\x0a\x00\x00\x05", b"\x0a\x01\x00\x05"


def _run(pkg: str, messages: int, two_paths: bool) -> float:
    ep_mod = importlib.import_module(f"{pkg}.endpoint")
    cfg_mod = importlib.import_module(f"{pkg}.config")
    cfg = cfg_mod.SctpConfig(heartbeat_interval=30.0)
    kw_s: dict[str, Any] = {}
    kw_c: dict[str, Any] = {}
    if two_paths:
        kw_s["local_addresses"] = [S1, S2]
        kw_c["local_addresses"] = [C1, C2]
    srv = ep_mod.Endpoint(cfg, S1, 38412, True, rng=random.Random(1), secret=b"k" * 32, **kw_s)
    cli = ep_mod.Endpoint(cfg, C1, 50000, False, rng=random.Random(2), **kw_c)
    now = 100.0
    ca = cli.connect(S1, 38412, now)
    sa = None

    has_paths = hasattr(ca, "dest")  # the package knows paths (else: one address per peer)

    def out(a: Any) -> list[tuple[bytes, bytes, bytes]]:
        # what the userspace adapter does with the packets: each to its (dst, src)
        pk = a.datagrams_to_send(now)
        if not has_paths:
            return [(x, a.peer_ip, a.local_ip) for x in pk]
        dests = a.tx_dests
        d = a.dest
        if dests is None:
            return [(x, d.peer_ip, d.local_ip) for x in pk]
        return [(x, *dests[i]) if i < len(dests) else (x, d.peer_ip, d.local_ip) for i, x in enumerate(pk)]

    for _ in range(10):  # handshake
        for pkt, dst, src in out(ca):
            srv.receive(src, dst, pkt, now)
        for pkt, dst, src in srv.pop_replies():
            cli.receive(src, dst, pkt, now)
        if srv.new_associations:
            sa = srv.new_associations.pop()
        if sa is not None:
            for pkt, dst, src in out(sa):
                cli.receive(src, dst, pkt, now)
    assert sa is not None and ca.established and sa.established
    rng = random.Random(3)
    payloads = [rng.randbytes(rng.randint(100, 500)) for _ in range(256)]
    t0 = time.process_time()
    for i in range(messages):
        now += 0.0001
        ca.send(0, 60, payloads[i & 255])
        for pkt, dst, src in out(ca):
            srv.receive(src, dst, pkt, now)
        for e in sa.pop_events():
            if hasattr(e, "data"):
                sa.consumed(len(e.data))
                sa.send(0, 60, e.data)
        for pkt, dst, src in out(sa):
            cli.receive(src, dst, pkt, now)
        for e in ca.pop_events():
            if hasattr(e, "data"):
                ca.consumed(len(e.data))
        for a in (ca, sa):
            t = a.get_timer()
            if t is not None and t <= now:
                a.handle_timer(now)
    dt = time.process_time() - t0
    assert ca.established and sa.established
    return dt / messages * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--package", default="fivecore.transport.sctp")
    ap.add_argument("--two-paths", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = [_run(args.package, args.messages, args.two_paths) for _ in range(args.runs)]
    out = {"package": args.package, "two_paths": args.two_paths, "us_per_exchange_median": statistics.median(res),
           "us_per_exchange_min": min(res), "runs": res}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.package} two_paths={args.two_paths}: median {out['us_per_exchange_median']:.1f} us "
              f"min {out['us_per_exchange_min']:.1f} us per request/response ({args.runs} runs)")


if __name__ == "__main__":
    main()
