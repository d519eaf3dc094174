"""Benchmark of the 5G security primitives (fivecore.security).

Plain script: ``python bench/crypto.py [--json] [--quick]``. Prints the median time per
operation over several rounds and the target from issue 2; the numbers go into the
"Security primitives" section of docs/benchmarks.md.

``python bench/crypto.py --attach [--json]`` instead times the security calls the core makes
for ONE attach (registration with 5G-AKA + security mode + one PDU session), each with the
inputs an attach gives it, and their sum; it uses only the public API, so the same script
times an older tree (``PYTHONPATH=/old/src python bench/crypto.py --attach``) for an A/B.
The numbers go into the "Crypto per attach (session 5)" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

from fivecore.benchkit.stats import median_us
from fivecore.security import kdf, milenage, suci
from fivecore.security.nas_algorithms import nea, nia
from fivecore.security.nas_context import NasSecurityContext, Role

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN, AMF = bytes.fromhex("ff9bb4d0b607"), bytes.fromhex("b9b9")
KEY = bytes(range(16))
MSG = bytes(range(100))  # a 100-byte NAS message


def _milenage_f1_f5() -> None:
    milenage.f1(K, OPC, RAND, SQN, AMF)
    milenage.f2345(K, OPC, RAND)


def _nas_pair(alg: int) -> Callable[[], None]:
    def run() -> None:
        nea(alg, KEY, 7, 1, 1, MSG)
        nia(alg, KEY, 7, 1, 1, MSG)

    return run


def _suci_deconceal(scheme: int) -> Callable[[], None]:
    priv, pub = suci.generate_hn_keypair(scheme)
    out = suci.conceal("0000000001", scheme, pub)

    def run() -> None:
        suci.deconceal(out, scheme, priv)

    return run


def _suci_conceal(scheme: int) -> Callable[[], None]:
    _, pub = suci.generate_hn_keypair(scheme)

    def run() -> None:
        suci.conceal("0000000001", scheme, pub)

    return run


def _key_chain() -> None:
    res, ck, ik, ak = milenage.f2345(K, OPC, RAND)
    snn = "5G:mnc001.mcc001.3gppnetwork.org"
    k_ausf = kdf.kausf(ck, ik, snn, SQN)
    k_amf = kdf.kamf(kdf.kseaf(k_ausf, snn), "imsi-001010000000001")
    kdf.nas_keys(k_amf, 2, 2)
    kdf.kgnb(k_amf, 0)


def _nas_context_round_trip() -> Callable[[], None]:
    ue = NasSecurityContext.from_kamf(Role.UE, bytes(32), int_alg=2, enc_alg=2)
    amf = NasSecurityContext.from_kamf(Role.NETWORK, bytes(32), int_alg=2, enc_alg=2)

    def run() -> None:
        amf.unprotect(ue.protect(MSG))

    return run


def _per_key_cases() -> list[tuple[str, Callable[[], None], float | None]]:
    """NEA2 / NIA2 through the per-key objects a NAS security context keeps (if present)."""
    from fivecore.security import nas_algorithms

    if not hasattr(nas_algorithms, "nea_for_key"):  # an older tree (A/B runs)
        return []
    enc, mac = nas_algorithms.nea_for_key(2, KEY), nas_algorithms.nia_for_key(2, KEY)
    return [
        ("NEA2, per-key object (NAS context), 100 bytes", lambda: enc(7, 1, 1, MSG), None),
        ("NIA2, per-key object (NAS context), 100 bytes", lambda: mac(7, 1, 1, MSG), None),
    ]


# (name, function, target in µs or None, what the target is)
CASES: list[tuple[str, Callable[[], None], float | None]] = [
    ("Milenage f1..f5 (f1 + f2345)", _milenage_f1_f5, 50.0),
    (
        "Milenage all outputs (f1, f1*, f2-f5, f5*)",
        lambda: milenage.milenage(K, OPC, RAND, SQN, AMF),
        50.0,
    ),
    ("5G key chain KAUSF->KSEAF->KAMF->NAS keys, KgNB", _key_chain, None),
    ("NIA2 + NEA2, 100-byte NAS message", _nas_pair(2), 50.0),
    ("NIA1 + NEA1 (SNOW 3G), 100 bytes", _nas_pair(1), 2000.0),
    ("NIA3 + NEA3 (ZUC), 100 bytes", _nas_pair(3), 2000.0),
    ("NEA1 alone, 100 bytes", lambda: nea(1, KEY, 7, 1, 1, MSG), 2000.0),
    ("NIA1 alone, 100 bytes", lambda: nia(1, KEY, 7, 1, 1, MSG), 2000.0),
    ("NEA3 alone, 100 bytes", lambda: nea(3, KEY, 7, 1, 1, MSG), 2000.0),
    ("NIA3 alone, 100 bytes", lambda: nia(3, KEY, 7, 1, 1, MSG), 2000.0),
    ("NAS protect + unprotect (NIA2/NEA2), 100 bytes", _nas_context_round_trip(), None),
    *_per_key_cases(),
    ("SUCI Profile A deconceal", _suci_deconceal(1), 200.0),
    ("SUCI Profile B deconceal", _suci_deconceal(2), None),
    ("SUCI Profile A conceal (UE)", _suci_conceal(1), None),
    ("SUCI Profile B conceal (UE)", _suci_conceal(2), None),
]


def measure(fn: Callable[[], None], budget_s: float, rounds: int) -> float:
    """Median µs per call over ``rounds`` rounds, each sized to take about budget/rounds."""
    fn()
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < 0.02:
        fn()
        n += 1
    per_call = 0.02 / max(n, 1)
    number = max(1, int(budget_s / rounds / per_call))
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number * 1e6)
    return statistics.median(samples)


# --- the security work of one attach in the core (issue 9) -------------------------------

SNN = "5G:mnc001.mcc001.3gppnetwork.org"
SUPI = "imsi-001010000000001"


def attach_steps() -> list[tuple[str, int, Callable[[], object]]]:
    """``(what, calls per attach, fn)`` for each security call one attach makes in the core.

    Order and inputs follow the attach: the AMF builds the SUCI from the NAS mobile identity
    and sends its string form; the UDM parses it and de-conceals it (SIDF, Profile A),
    computes the 5G HE AV (Milenage f1 then f2345, XRES*, KAUSF, as ``nf/udm/ueau.py``);
    the AUSF derives HXRES* and KSEAF; the AMF checks HRES*, derives KAMF, builds the NAS
    security context (K_NASenc/K_NASint) and KgNB; three downlink messages are protected
    and three uplink ones unprotected (``--calls`` of ``fivecore bench attach`` counts 3 + 3).
    """
    priv, pub = suci.generate_hn_keypair(1)
    out = suci.conceal("0000000001", 1, pub)
    ident = suci.SuciIdentity(0, "001", "01", "0", 1, 1, out)
    text = ident.to_string()
    amf5g = bytes((AMF[0] | 0x80, AMF[1]))
    res, ck, ik, ak = milenage.f2345(K, OPC, RAND)
    xres_star = kdf.res_star(ck, ik, SNN, RAND, res)
    k_ausf = kdf.kausf(ck, ik, SNN, SQN)
    k_seaf = kdf.kseaf(k_ausf, SNN)
    k_amf = kdf.kamf(k_seaf, SUPI)
    # NAS messages of realistic sizes: Security Mode Command (type 3), Registration Accept and
    # DL NAS Transport with the 5GSM accept (type 2); uplink Security Mode Complete with its
    # NAS message container (type 4), Registration Complete and UL NAS Transport (type 2).
    smc, reg_acc, dl_nas = bytes(range(8)), bytes(range(60)), bytes(range(90))
    ue = NasSecurityContext.from_kamf(Role.UE, k_amf, int_alg=2, enc_alg=2)
    smc_complete = ue.protect(bytes(range(80)), 4)
    reg_complete = ue.protect(bytes(3), 2)
    ul_nas = ue.protect(bytes(range(45)), 2)

    def nas_dialogue() -> None:
        amf = NasSecurityContext.from_kamf(Role.NETWORK, k_amf, int_alg=2, enc_alg=2)
        amf.protect(smc, 3)
        amf.unprotect(smc_complete)
        amf.protect(reg_acc, 2)
        amf.unprotect(reg_complete)
        amf.unprotect(ul_nas)
        amf.protect(dl_nas, 2)

    def vector() -> None:
        mac_a = milenage.f1(K, OPC, RAND, SQN, amf5g)
        r, c, i, a = milenage.f2345(K, OPC, RAND)
        kdf.res_star(c, i, SNN, RAND, r)
        kdf.kausf(c, i, SNN, SQN)
        assert mac_a

    return [
        ("AMF: SUCI from the NAS identity + its SBI string", 1,
         lambda: suci.SuciIdentity(0, "001", "01", "0", 1, 1, out).to_string()),
        ("UDM: SUCI string -> SUPI (Profile A de-concealment)", 1,
         lambda: suci.SuciIdentity.from_string(text).to_supi(priv)),
        ("UDM: HE AV (f1, f2345, XRES*, KAUSF)", 1, vector),
        ("AUSF + AMF: HXRES* (x2), KSEAF, KAMF", 1,
         lambda: (kdf.hxres_star(RAND, xres_star), kdf.kseaf(k_ausf, SNN),
                  kdf.hxres_star(RAND, xres_star), kdf.kamf(k_seaf, SUPI, b"\x00\x00"))),
        ("AMF: NAS context + 3 protect + 3 unprotect (NIA2/NEA2)", 1, nas_dialogue),
        ("AMF: KgNB", 1, lambda: kdf.kgnb(k_amf, 2)),
    ]  # fmt: skip


def attach_report(number: int, repeat: int) -> dict[str, object]:
    """Median µs of each step and of the whole per-attach sequence."""
    steps = attach_steps()
    rows = [{"step": what, "calls": n, "median_us": round(median_us(fn, number, repeat) * n, 2)}
            for what, n, fn in steps]  # fmt: skip

    def whole() -> None:
        for _, n, fn in steps:
            for _ in range(n):
                fn()

    return {"steps": rows, "sum_of_steps_us": round(sum(r["median_us"] for r in rows), 2),
            "per_attach_us": round(median_us(whole, number, repeat), 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    parser.add_argument("--attach", action="store_true",
                        help="the security calls of one attach in the core, and their total")
    args = parser.parse_args(argv)
    if args.attach:
        report = attach_report(200 if args.quick else 500, 5 if args.quick else 9)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            for r in report["steps"]:  # type: ignore[attr-defined]
                print(f"{r['median_us']:9.1f} µs  {r['step']}")
            print(f"{report['per_attach_us']:9.1f} µs  per attach (sum of steps "
                  f"{report['sum_of_steps_us']} µs)")
        return 0
    budget, rounds = (0.2, 5) if args.quick else (1.0, 7)
    rows = []
    for name, fn, target in CASES:
        us = measure(fn, budget, rounds)
        rows.append({"case": name, "median_us": round(us, 2), "target_us": target,
                     "meets_target": None if target is None else us <= target})  # fmt: skip
    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps({"environment": env, "results": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fivecore.security benchmark (Python {env['python']}, {env['cpus']} CPUs)")
    table.add_column("Operation")
    table.add_column("Median", justify="right")
    table.add_column("Target", justify="right")
    table.add_column("")
    for r in rows:
        tgt = "-" if r["target_us"] is None else f"<= {r['target_us']:,.0f} µs"
        ok = (
            ""
            if r["meets_target"] is None
            else ("[green]ok[/green]" if r["meets_target"] else "[red]over[/red]")
        )
        table.add_row(r["case"], f"{r['median_us']:,.1f} µs", tgt, ok)
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
