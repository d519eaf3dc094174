#!/usr/bin/env python3
"""What the Router Advertisement options cost the UPF (fivecore.nf.upf.ndp, fivecore.wire.icmpv6).

    .venv/bin/python bench/ipv6_ra.py [--json]

The UPF builds one advertisement per IPv6 session when its tunnel comes up and one per answered
Router Solicitation (at most one per session per 0.5 s), never per data packet: this measures
that slow path with and without the MTU and RDNSS options, the per-DNN lookup through the
session's PDRs, and the UE side's decode. Best of 5 repeats of timeit, µs per call.
"""

from __future__ import annotations

import argparse
import json
import timeit
from types import SimpleNamespace

from fivecore.nf.upf.ndp import RaOptions, RaPolicy
from fivecore.wire import icmpv6

SRC = icmpv6.link_local(bytes(7) + b"\x01")
DST = icmpv6.ALL_NODES
PREFIX = 0x2001_0DB8_CAFE_0001
DNS = tuple(bytes.fromhex(h) for h in ("20014860486000000000000000008888", "20014860486000000000000000008844"))


def _us(fn: object, number: int = 20000) -> float:
    return round(min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6, 2)  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args()
    policy = RaPolicy(RaOptions(1456), {"ims": RaOptions(1400), "internet": RaOptions(1400, DNS)})
    pdrs = {i: SimpleNamespace(network_instance="internet") for i in (1, 2)}
    session = SimpleNamespace(pdrs=pdrs)
    full = icmpv6.router_advertisement(SRC, DST, PREFIX, mtu=1400, dns=DNS)
    res = {
        "encode_prefix_only_us": _us(lambda: icmpv6.router_advertisement(SRC, DST, PREFIX)),
        "encode_mtu_rdnss2_us": _us(lambda: icmpv6.router_advertisement(SRC, DST, PREFIX, mtu=1400, dns=DNS)),
        "policy_lookup_us": _us(lambda: policy.for_session(session)),
        "decode_mtu_rdnss2_us": _us(lambda: icmpv6.decode_router_advertisement(full)),
        "ra_octets_prefix_only": len(icmpv6.router_advertisement(SRC, DST, PREFIX)),
        "ra_octets_mtu_rdnss2": len(full),
    }
    if ns.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:28} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
