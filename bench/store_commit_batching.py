#!/usr/bin/env python3
"""What group commit would save in the subscriber store: CPU per attach of the UDR's context
writes, one autocommit statement each (as today) against one transaction per N attaches
(session 8, issue 9).

    .venv/bin/python bench/store_commit_batching.py [--ues 3000] [--batches 1 5 20]

An attach writes three context documents through ``SubscriberStore.put_context`` (the AMF's
registration, the authentication status and the SMF's registration, TS 29.505). Each runs on
a real SQLite file in WAL mode with the store's own pragmas; every UE writes rows of its own,
as in an attach run. The SQN compare-and-swap is left out: it must stay one atomic statement
(another UDM process may race for it), so group commit could not take it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fivecore.store import Subscriber, SubscriberStore

DOC = json.dumps({
    "amfInstanceId": "5b2c2c0e-1111-4222-8333-444455556666",
    "deregCallbackUri": "http://127.0.0.1:7777/namf-callback/v1/imsi-001010000000001/dereg-notify",
    "guami": {"plmnId": {"mcc": "001", "mnc": "01"}, "amfId": "cafe00"},
    "ratType": "NR",
})


def _supi(i: int) -> str:
    return f"imsi-00101{i:010d}"


def _attach_writes(store: SubscriberStore, i: int) -> None:
    supi = _supi(i)
    store.put_context(supi, "amf-3gpp-access", "", None, subscriber=True, text=DOC)
    store.put_context(supi, "auth-status", "", None, subscriber=True, text=DOC)
    store.put_context(supi, "smf-registrations", "1", None, subscriber=True, text=DOC)


def run(ues: int, batches: list[int]) -> dict[str, float]:
    """CPU µs per attach: ``autocommit`` and ``per_<n>`` (one transaction per n attaches)."""
    with tempfile.TemporaryDirectory() as d:
        store = SubscriberStore(f"sqlite:///{Path(d) / 'subs.db'}")
        try:
            total = ues * (2 + len(batches))
            store.add_many(Subscriber(supi=_supi(i), k=bytes(16), opc=bytes(16)) for i in range(total))
            fast = store._fast  # the store's own hot-path connection (autocommit mode)
            assert fast is not None
            out: dict[str, float] = {}
            lo = 0

            def timed(label: str, batch: int | None) -> None:
                nonlocal lo
                c0 = time.process_time()
                for j in range(lo, lo + ues, batch or 1):
                    if batch:
                        fast.execute("BEGIN")
                    for i in range(j, min(lo + ues, j + (batch or 1))):
                        _attach_writes(store, i)
                    if batch:
                        fast.execute("COMMIT")
                out[label] = round((time.process_time() - c0) / ues * 1e6, 1)
                lo += ues

            timed("autocommit", None)
            for b in batches:
                timed(f"per_{b}", b)
            timed("autocommit_again", None)
            return out
        finally:
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ues", type=int, default=3000)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 5, 20])
    ns = ap.parse_args()
    print(json.dumps(run(ns.ues, ns.batches)))


if __name__ == "__main__":
    main()
