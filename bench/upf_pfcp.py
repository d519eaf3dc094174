"""UPF N4 micro-benchmark: one PDU session's PFCP work inside the UPF, in process.

Per attach the UPF handles exactly two requests from the SMF (TS 29.244 §7.5.2 Session
Establishment with PDR/FAR/QER/URR, §7.5.4 Session Modification pointing the downlink FAR at
the gNB's tunnel) and answers both. This feeds the octets the real SMF sends (built by
:mod:`fivecore.nf.smf.pfcp`, templates included) through
:meth:`fivecore.nf.upf.pfcp_server.PfcpNode.datagram_received` and, with ``--app``, through
the UPF's datagram protocol and send path (``UpfApp`` without sockets: a recording
transport), and reports µs per establishment + modification pair.

    .venv/bin/python bench/upf_pfcp.py [--sessions 2000] [--repeat 5] [--app] [--cold] [--json]

A/B: run it with ``PYTHONPATH=<old tree>/src`` and ``PYTHONPATH=src`` alternately.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from typing import Any

from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv4Pool, SmfContext
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import pfcp

SMF = ("127.0.0.4", 8805)


def _requests(n: int) -> list[tuple[bytes, Any]]:
    """Establishment octets for ``n`` sessions, as the SMF's template path makes them."""
    ctx = SmfContext()
    pool = Ipv4Pool("10.45.0.0/16")
    out = []
    for i in range(n):
        sm = ctx.new(f"imsi-0010100{i:08d}", 1, "internet", {"sst": 1})
        sm.ue_ipv4 = pool.allocate()
        sm.local_seid = i + 1
        data = smf_pfcp.establishment_request(sm, seq=2 * i + 10, node_id=SMF[0], cp_ip=SMF[0])
        if data is None:
            data = pfcp.encode(smf_pfcp.session_establishment(sm, seq=2 * i + 10, node_id=SMF[0],
                                                              cp_ip=SMF[0]))
        out.append((data, sm))
    return out


def _modification(sm: Any, seq: int, upf_seid: int, i: int) -> bytes:
    sm.upf_seid = upf_seid
    sm.dl_teid = 0x1000 + i
    sm.dl_ip = "127.0.1.1"
    data = smf_pfcp.activate_downlink_request(sm, seq=seq)
    if data is None:
        data = pfcp.encode(smf_pfcp.activate_downlink(sm, seq=seq))
    return data


class _Transport:
    """Stands in for the kernel: records what the UPF sends (the benchmark has no sockets)."""

    def __init__(self) -> None:
        self.sent = 0

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent += 1


def _node(with_app: bool) -> tuple[Any, Any]:
    """A PfcpNode associated with the SMF, and the function one datagram goes through."""
    ctx = UpfContext("127.0.0.7")
    node = PfcpNode(ctx, "127.0.0.7", now=0.0)
    assoc = pfcp.encode(pfcp.PfcpMessage.build(
        "AssociationSetupRequest", seq=1, node_id=pfcp.NodeId.ipv4(SMF[0]),
        recovery_time_stamp=pfcp.ntp_now()))
    node.datagram_received(assoc, SMF, time.monotonic())
    if not with_app:
        now = time.monotonic

        def feed(data: bytes) -> list[tuple[bytes, Any]]:
            return node.datagram_received(data, SMF, now())
        return node, feed
    from fivecore.nf.upf import app as upf_app

    app = upf_app.UpfApp.__new__(upf_app.UpfApp)
    app.ctx = ctx
    app.node = node
    # No datapath or N3 control: nothing in an attach sends end markers or flushes buffers.
    app.datapath = None
    app.n3control = None
    proto = upf_app._PfcpProtocol(app)
    proto.transport = _Transport()  # type: ignore[assignment]
    app._pfcp = proto

    def feed_app(data: bytes) -> list[tuple[bytes, Any]]:
        proto.datagram_received(data, SMF)
        return []
    return node, feed_app


class _Trash:
    """Evicts the CPU caches between two requests, as the other processes of a loaded host
    do between two wake-ups of the UPF (each request then starts cold, as in the network)."""

    def __init__(self, mb: int = 2) -> None:
        self.buf = bytearray(mb << 20)
        self.zero = bytes(len(self.buf) // 64)
        self.junk = [str(i) for i in range(2000)]

    def __call__(self) -> None:
        self.buf[::64] = self.zero
        sorted(self.junk, key=hash)


def one_round(n: int, with_app: bool, cold: bool = False) -> float:
    """µs per establishment + modification over ``n`` fresh sessions."""
    reqs = _requests(n)
    mods = [_modification(sm, 2 * i + 11, i + 1, i) for i, (_, sm) in enumerate(reqs)]
    node, feed = _node(with_app)
    ctx = node.ctx
    trash = _Trash() if cold else None
    gc.collect()
    clock = time.perf_counter
    dt = 0.0
    for i, (data, _sm) in enumerate(reqs):
        if trash is not None:
            trash()
        t0 = clock()
        feed(data)
        dt += clock() - t0
        if trash is not None:
            trash()
        t0 = clock()
        # The UPF SEIDs are allocated 1, 2, ... in order on a fresh context.
        feed(mods[i])
        dt += clock() - t0
    assert len(ctx.sessions) == n, "every establishment must create a session"
    assert all(s.dl_ues for s in ctx.sessions.values())
    return dt / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--app", action="store_true", help="through UpfApp's datagram protocol")
    ap.add_argument("--cold", action="store_true",
                    help="evict the CPU caches before each request (as on a loaded host)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    runs = [one_round(a.sessions, a.app, a.cold) for _ in range(a.repeat)]
    res = {"sessions": a.sessions, "path": "app" if a.app else "node", "cold": a.cold,
           "us_per_attach_median": round(statistics.median(runs), 1),
           "us_per_attach_min": round(min(runs), 1)}
    print(json.dumps(res) if a.json else
          f"UPF PFCP ({res['path']}{', cold' if a.cold else ''}): {res['us_per_attach_median']} "
          f"µs per establishment + modification (min {res['us_per_attach_min']}, "
          f"{a.sessions} sessions)")


if __name__ == "__main__":
    main()
