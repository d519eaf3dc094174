"""Benchmark of the 5G security primitives (fivecore.security).

Plain script: ``python bench/crypto.py [--json] [--quick]``. Prints the median time per
operation over several rounds and the target from issue 2; the numbers go into the
"Security primitives" section of docs/benchmarks.md.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    args = parser.parse_args(argv)
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
