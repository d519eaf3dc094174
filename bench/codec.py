"""Wire codec benchmarks (issue 3): NGAP, NAS-5GS, PFCP, GTP-U, with pycrate baselines.

Run: ``.venv/bin/python bench/codec.py`` (about 30 s). Prints a markdown table of medians over
``--repeat`` runs of ``--number`` calls each; the numbers go into docs/benchmarks.md
("Wire codecs"). Targets: NGAP InitialUEMessage encode+decode <= 150 us, NAS Registration
Request decode <= 100 us, GTP-U encapsulate and decapsulate <= 2 us each.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

from fivecore.benchkit.stats import median_us
from fivecore.wire import gtpu, nas, ngap, pfcp, samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-baseline", action="store_true", help="skip the pycrate baselines")
    args = ap.parse_args()
    n, r = args.number, args.repeat

    reg = nas.RegistrationRequest(
        registration_type=nas.RegistrationType(1, True), ngksi=nas.NgKsi(0, 7),
        mobile_identity=samples.SUCI_PROFILE_A, ue_security_capability=samples.CAPS,
        requested_nssai=(nas.SNssai(1),), mm_capability=b"\x00",
        s1_ue_network_capability=bytes.fromhex("f0f0c0c0018030"))
    reg_bytes = nas.encode(reg)
    ium = ngap.NgapPdu("InitialUEMessage", "initiating", {
        "RAN-UE-NGAP-ID": 1, "NAS-PDU": reg_bytes,
        "UserLocationInformation": ngap.user_location_nr("00101", 1, 0x10),
        "RRCEstablishmentCause": "mo-Signalling", "UEContextRequest": "requested"})
    ium_bytes = ngap.encode(ium)
    est = samples.pfcp_samples()[4]
    est_bytes = pfcp.encode(est)
    ip = bytes(100)
    pkt = gtpu.encap(0x1234, ip, qfi=1)
    buf = bytearray(2048)

    rows: list[tuple[str, float, str]] = []

    def add(name: str, fn: Callable[[], object], target: str = "", number: int = n) -> float:
        us = median_us(fn, number, r)
        rows.append((name, us, target))
        return us

    enc = add("NGAP InitialUEMessage encode", lambda: ngap.encode(ium))
    dec = add("NGAP InitialUEMessage decode", lambda: ngap.decode(ium_bytes))
    rows.append(("NGAP InitialUEMessage encode + decode", enc + dec, "<= 150"))

    # The same with a new cell in every message: the per-IE memo misses (the worst case; in a
    # running AMF the cell, GUAMI and NSSAI values recur, as in the rows above).
    cells = iter(range(1, 1 << 36))

    def cold() -> object:
        pdu = ngap.NgapPdu("InitialUEMessage", "initiating", {
            "RAN-UE-NGAP-ID": 1, "NAS-PDU": reg_bytes,
            "UserLocationInformation": ngap.user_location_nr("00101", 1, next(cells)),
            "RRCEstablishmentCause": "mo-Signalling", "UEContextRequest": "requested"})
        return ngap.decode(ngap.encode(pdu))

    add("NGAP InitialUEMessage encode + decode, memo cold (a new cell each time)", cold, "<= 150")
    add("NAS Registration Request decode (SUCI profile A)", lambda: nas.decode(reg_bytes), "<= 100",
        number=n * 10)
    add("NAS Registration Request encode", lambda: nas.encode(reg), "", number=n * 10)
    sec = nas.encode(nas.SecurityProtectedNasMessage(2, bytes(4), 1, reg_bytes))
    add("NAS security-protected header + inner decode", lambda: nas.decode(sec).plain(),
        number=n * 10)
    add("PFCP Session Establishment Request encode (2 PDR, 2 FAR, URR, QER)",
        lambda: pfcp.encode(est))
    add("PFCP Session Establishment Request decode", lambda: pfcp.decode(est_bytes))
    add("GTP-U G-PDU encapsulate (PDU Session Container)", lambda: gtpu.encap(0x1234, ip, 1),
        "<= 2", number=n * 50)
    add("GTP-U G-PDU decapsulate (PDU Session Container)", lambda: gtpu.decap(pkt), "<= 2",
        number=n * 50)
    add("GTP-U write_header into a bytearray", lambda: gtpu.write_header(buf, 0, 0x1234, 100, 1),
        "", number=n * 50)

    if not args.no_baseline:
        from pycrate_asn1dir import NGAP
        from pycrate_mobile.NAS5G import parse_NAS5G

        pdu = NGAP.NGAP_PDU_Descriptions.NGAP_PDU
        pdu.from_aper(ium_bytes)
        val = pdu.get_val()

        def pyc_enc() -> bytes:
            pdu.set_val(val)
            return pdu.to_aper()

        e2 = add("baseline: pycrate NGAP PDU encode", pyc_enc, number=n // 4)
        d2 = add("baseline: pycrate NGAP PDU decode", lambda: pdu.from_aper(ium_bytes), number=n // 4)
        rows.append(("baseline: pycrate NGAP encode + decode", e2 + d2, ""))
        add("baseline: pycrate parse_NAS5G Registration Request", lambda: parse_NAS5G(reg_bytes),
            number=n // 10)

    print(f"Python {platform.python_version()}, {platform.machine()}; median of {r} runs\n")
    print("| operation | µs per call | target (µs) |")
    print("| --- | ---: | ---: |")
    for name, us, target in rows:
        print(f"| {name} | {us:.2f} | {target} |")


if __name__ == "__main__":
    main()
