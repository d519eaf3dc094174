"""AMF context reaper and context cap (issue 6), sans-I/O, one core.

Run: ``.venv/bin/python bench/amf_reaper.py`` (about 20 s). Measures what the reaper and the cap
add: the periodic sweep with 100,000 registered UEs (nothing to reap, and 10,000 to reap), the
per-context cost of creating and forgetting the ``embryonic`` entry on the registration path,
the cost of answering one Initial UE Message past the cap (NGAP decode, NAS decode, #22 reject,
UE Context Release Command) and of verifying + opening a §4.4.6 NAS message container. The
numbers go into docs/benchmarks.md ("AMF context reaper, cap, initial NAS container").
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit

from fivecore.nf.amf.context import GmmState, GnbContext, GnbState
from fivecore.nf.amf.gmm import Gmm, GmmConfig
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig
from fivecore.ran import nas_io as ue_nas
from fivecore.security import kdf
from fivecore.security.nas_context import NasSecurityContext, Role
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu


def _fill(gmm: Gmm, gnb: GnbContext, registered: int, embryonic: int) -> None:
    ctx = gmm.ctx
    for i in range(registered):
        ue = ctx.new_ue(gnb, i)
        ue.state = GmmState.REGISTERED
        ctx.embryonic.pop(ue.amf_ue_ngap_id, None)
        ctx.detach_ran(ue)
    for i in range(embryonic):
        ctx.new_ue(gnb, registered + i)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--registered", type=int, default=100_000)
    ap.add_argument("--embryonic", type=int, default=10_000)
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []

    # the sweep: O(reaped), not O(UEs)
    gmm = Gmm(GmmConfig(ue_setup_timeout=1.0))
    gnb = GnbContext(1, "bench")
    _fill(gmm, gnb, args.registered, 0)
    idle = statistics.median(timeit.repeat(gmm.sweep, number=1000, repeat=5)) / 1000
    rows.append((f"sweep, {args.registered:,} registered UEs, nothing to reap", f"{idle * 1e6:.2f} µs"))
    _fill(gmm, gnb, 0, args.embryonic)
    for _ in range(4):  # SWEEPS_PER_TIMEOUT: the fifth reaps them
        gmm.sweep()
    t0 = time.perf_counter()
    acts = gmm.sweep(limit=1 << 30)
    dt = time.perf_counter() - t0
    assert len(acts) == args.embryonic and not gmm.ctx.embryonic
    rows.append((f"sweep reaping {args.embryonic:,} contexts (release actions built)",
                 f"{dt * 1e3:.1f} ms ({dt / args.embryonic * 1e6:.2f} µs each)"))

    # the registration path: embryonic insert at new_ue + pop at Registration Complete
    ctx = Gmm(GmmConfig()).ctx
    g2 = GnbContext(2, "bench")
    n = 100_000
    t0 = time.perf_counter()
    for i in range(n):
        ctx.new_ue(g2, i)
    with_emb = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for k in list(ctx.embryonic):
        ctx.embryonic.pop(k, None)
    pop = (time.perf_counter() - t0) / n
    rows.append(("new_ue (incl. embryonic insert) / embryonic pop at Registration Complete",
                 f"{with_emb * 1e6:.2f} µs / {pop * 1e9:.0f} ns"))

    # past the cap: one Initial UE Message -> #22 + T3346 + UE Context Release Command
    gmm3 = Gmm(GmmConfig(max_ue_contexts=0))
    h = AmfNgap(NgapConfig(max_ues_per_gnb=1 << 30), gmm3)
    g3 = h.association_up(1, "bench")
    g3.state = GnbState.READY
    nas_pdu = ue_nas.registration_request(1, False, 7, ue_nas.Guti.guti("00101", 2, 1, 0, 0x1234), (1, 2), (1, 2))
    msgs = [ngap.encode(NgapPdu("InitialUEMessage", "initiating", {
        "RAN-UE-NGAP-ID": i, "NAS-PDU": nas_pdu, "UserLocationInformation": ngap.user_location_nr("00101", 1, 1),
        "RRCEstablishmentCause": "mo-Signalling"})) for i in range(2000)]
    t0 = time.perf_counter()
    for m in msgs:
        h.on_message(g3, 1, m)
    per = (time.perf_counter() - t0) / len(msgs)
    assert gmm3.ctx.stats["ue_context_limit"] == len(msgs) and not gmm3.ctx.ues
    rows.append(("Initial UE Message past the cap (decode, #22 reject, release)",
                 f"{per * 1e6:.0f} µs ({1 / per:,.0f} /s per core)"))

    # §4.4.6: open the ciphered container of a verified initial Registration Request
    kamf = bytes(range(32))
    full = ue_nas.registration_request(1, False, 1, ue_nas.Guti.guti("00101", 2, 1, 0, 0x1234), (1, 2), (1, 2),
                                       requested_nssai=[(1, None)])
    from fivecore.nf.amf import nas_io as amf_nas

    def one() -> None:
        ue_sec = NasSecurityContext.from_kamf(Role.UE, kamf, int_alg=2, enc_alg=2)
        nw_sec = NasSecurityContext.from_kamf(Role.NETWORK, kamf, int_alg=2, enc_alg=2)
        c = ue_nas.cipher_initial_container(ue_sec, kamf, full)
        outer = ue_nas.registration_request(1, False, 1, ue_nas.Guti.guti("00101", 2, 1, 0, 0x1234), (1, 2), (1, 2),
                                            nas_message_container=c)
        pdu, _ = ue_nas.protect_uplink(ue_sec, outer, 1)
        t = time.perf_counter()
        plain = amf_nas.unprotect_initial(nw_sec, pdu)
        up = amf_nas.decode_uplink(plain)
        amf_nas.decode_uplink(amf_nas.decipher_initial_container(nw_sec, kamf, up.container))
        times.append(time.perf_counter() - t)

    times: list[float] = []
    for _ in range(2000):
        one()
    rows.append(("AMF: verify + decode + open container + decode inner (NIA2/NEA2)",
                 f"{statistics.median(times) * 1e6:.0f} µs"))
    t = timeit.timeit(lambda: kdf.nas_keys(kamf, 2, 2), number=5000) / 5000
    rows.append(("  of which K_NASenc derivation for the container", f"{t * 1e6:.1f} µs"))

    print("| Measure | Result |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
