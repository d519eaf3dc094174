"""Per-attach pieces of the AMF and SMF (issue 9): the reference encoding against the fast path
that replaced it on the attach path, in microseconds per call (median of ``--repeat`` runs).

    .venv/bin/python bench/cp_pieces.py [--number 3000] [--repeat 7] [--markdown]

Every fast path here is checked byte for byte against its reference by the unit tests
(tests/unit/{smf,amf,wire,sbi}/test_*template*, test_ngap_downlink_nas_fast, test_sbi_client_eager).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from fivecore.benchkit.stats import median_us
from fivecore.nf.amf import nas_io
from fivecore.nf.amf.gmm import Gmm, GmmConfig
from fivecore.nf.amf.nas_io import Guti
from fivecore.nf.amf.ngap_handler import AmfNgap, NgapConfig
from fivecore.nf.common.client import _encode_query_parsed, run_until_wait
from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as n4
from fivecore.nf.smf import sbi as smf_sbi
from fivecore.nf.smf.context import SmfContext
from fivecore.runtime import install_fast_loop
from fivecore.wire import nas, ngap, pfcp
from fivecore.wire.nas.codec import NasMessage
from fivecore.wire.nas.ies import NgKsi, UeSecurityCapability


def pieces() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    ctx = SmfContext()
    sm = ctx.new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.ue_ipv4, sm.ambr_ul, sm.ambr_dl, sm.pdu_type, sm.pti, sm.ssc_mode, sm.five_qi, sm.arp = \
        "10.45.0.7", 10**9, 2 * 10**9, 1, 1, 1, 9, 8
    sm.ul_ip, sm.ul_teid = "127.0.0.7", 0x77
    sm2 = ctx.new("imsi-001010000000002", 1, "internet", {"sst": 1})
    sm2.upf_seid, sm2.dl_teid, sm2.dl_ip = 99, 0x1234, "127.0.0.1"
    dec = gsm.EstablishmentDecision(1, 1, None, True, True)
    svc = smf_sbi.SmfService.__new__(smf_sbi.SmfService)
    guti = Guti("001", "01", 2, 1, 0, 0x12345678)
    rand, autn = os.urandom(16), os.urandom(16)
    cap = UeSecurityCapability(0xF0, 0xF0)
    nas_pdu = os.urandom(60)
    amf = AmfNgap(NgapConfig(), Gmm(GmmConfig()))
    from fivecore.nf.amf.context import UeContext

    ue = UeContext(12345)
    ue.ran_ue_ngap_id, ue.allowed_nssai, ue.ue_sec_cap = 7, ((1, None),), cap
    keys = iter([os.urandom(32) for _ in range(1 << 16)] * 8)
    cfg = amf.cfg
    query = {"plmn-id": '{"mcc":"001","mnc":"01"}'}

    def ics_ref() -> bytes:
        return ngap.encode(ngap.NgapPdu("InitialContextSetup", "initiating", {
            "AMF-UE-NGAP-ID": 12345, "RAN-UE-NGAP-ID": 7,
            "GUAMI": ngap.guami(cfg.plmn, cfg.region_id, cfg.set_id, cfg.pointer),
            "AllowedNSSAI": [{"s-NSSAI": ngap.s_nssai(1, None)}],
            "UESecurityCapabilities": amf._ue_security_capabilities(ue),
            "SecurityKey": ngap.security_key(next(keys)), "NAS-PDU": nas_pdu}))

    def smc_ref() -> bytes:
        nas_io._SMC_MEMO.clear()
        return nas_io.security_mode_command(2, 0, 1, cap, rinmr=True)

    return [
        ("PFCP Session Establishment Request (build + encode)",
         lambda: pfcp.encode(n4.session_establishment(sm, seq=5, node_id="127.0.0.4", cp_ip="127.0.0.4")),
         lambda: n4.establishment_request(sm, seq=5, node_id="127.0.0.4", cp_ip="127.0.0.4")),
        ("PFCP Session Modification Request (downlink activation)",
         lambda: pfcp.encode(n4.activate_downlink(sm2, seq=6)), lambda: n4.activate_downlink_request(sm2, seq=6)),
        ("5GSM PDU Session Establishment Accept",
         lambda: gsm._establishment_accept(sm, dec, ["8.8.8.8", "1.1.1.1"], 1400),
         lambda: gsm.establishment_accept(sm, dec, ["8.8.8.8", "1.1.1.1"], 1400)),
        ("NGAP PDU Session Resource Setup Request Transfer",
         lambda: smf_sbi._setup_request_transfer(sm.ul_ip, sm.ul_teid, sm.ambr_dl, sm.ambr_ul, 1, 1, 9, 8),
         lambda: svc.setup_request_transfer(sm)),
        ("5GMM Registration Accept",
         lambda: nas_io._registration_accept(guti=guti, tais=[("001", "01", 1)], allowed_nssai=[(1, None)], t3512=3240),
         lambda: nas_io.registration_accept(guti=guti, tais=[("001", "01", 1)], allowed_nssai=[(1, None)], t3512=3240)),
        ("5GMM Authentication Request (5G-AKA)",
         lambda: nas.encode(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, 1), abba=b"\x00\x00", rand=rand,
                                       autn=autn)),
         lambda: nas_io.authentication_request(1, b"\x00\x00", rand, autn)),
        ("5GMM Security Mode Command", smc_ref, lambda: nas_io.security_mode_command(2, 0, 1, cap, rinmr=True)),
        ("NGAP Downlink NAS Transport",
         lambda: ngap.encode(ngap.NgapPdu("DownlinkNASTransport", "initiating", {
             "AMF-UE-NGAP-ID": 12345, "RAN-UE-NGAP-ID": 7, "NAS-PDU": nas_pdu})),
         lambda: ngap.downlink_nas_transport(12345, 7, nas_pdu)),
        ("NGAP Initial Context Setup Request (new KgNB each)", ics_ref,
         lambda: amf._ics_request(ue, nas_pdu, next(keys))),
        ("in-process SBI query (encode + handler's parse)",
         lambda: parse_qs(urlencode(query, doseq=True), keep_blank_values=True),
         lambda: _encode_query_parsed(query)),
    ]


async def _task_vs_eager(number: int) -> tuple[float, float]:
    async def work() -> int:
        return 1

    bg: set[Any] = set()

    def done(t: Any) -> None:
        bg.discard(t)

    import time

    t0 = time.perf_counter()
    for _ in range(number):
        t = asyncio.ensure_future(work())
        bg.add(t)
        t.add_done_callback(done)
        await asyncio.sleep(0)
    t1 = time.perf_counter()
    for _ in range(number):
        run_until_wait(work())
        await asyncio.sleep(0)
    t2 = time.perf_counter()
    return (t1 - t0) / number * 1e6, (t2 - t1) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []
    for name, ref, fast in pieces():
        assert ref() == fast() or name.startswith(("NGAP Initial", "in-process")), name
        rows.append((name, median_us(ref, args.number, args.repeat), median_us(fast, args.number, args.repeat)))
    install_fast_loop()
    task, eager = asyncio.run(_task_vs_eager(args.number * 10))
    rows.append(("SBI call that never waits: task vs run_until_wait (incl. one loop turn)", task, eager))
    print(f"Python {platform.python_version()}; µs per call, median of {args.repeat} runs\n")
    print("| piece | reference µs | fast path µs |")
    print("| --- | ---: | ---: |")
    for name, a, b in rows:
        print(f"| {name} | {a:.1f} | {b:.1f} |")


if __name__ == "__main__":
    main()
