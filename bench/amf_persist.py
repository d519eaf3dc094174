"""AMF UE contexts on disk (fivecore.nf.amf.persist), one core, no network.

Run: ``.venv/bin/python bench/amf_persist.py [--ues 100000]`` (about 30 s for 100,000). Measures
what persistence adds: the write-behind flush per UE row (batches of 50 marked UEs, the size one
100 ms flush holds at 500 attaches/s), the synchronous DL COUNT reservation (the rare path: a
message about to use the stored ceiling), the restart (reading N records back as registered
CM-IDLE UEs), and the AMF's RAM per restored UE against a UE context built without persistence.
The numbers go into docs/benchmarks.md ("AMF UE contexts across a restart").
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from fivecore.nf.amf.gmm import Gmm, GmmConfig
from fivecore.nf.amf.persist import AmfPersistence, UeRecord, restore_ue


def _record(i: int) -> UeRecord:
    return UeRecord(supi=f"imsi-00101{i:010d}", tmsi=0x10000000 + i, old_tmsi=None, ngksi=1, kamf=os.urandom(32),
                    enc_alg=2, int_alg=2, ul_count=3, dl_ceiling=70, ue_sec_cap=b"\xf0\xf0",
                    allowed_nssai=((1, None),), tacs=(1,), tac=1, ue_ambr=(10**9, 2 * 10**9), t3512=3240,
                    registered_with_udm=True, suci_scheme=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ues", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    n = args.ues
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ue.db"
        # --- fill: N registered UEs, written in batches as the flush loop would ------------------
        gmm = Gmm(GmmConfig())
        p = AmfPersistence(gmm, path, "bench")
        p.open()
        for i in range(n):
            restore_ue(_record(i), gmm.ctx)
        ues = list(gmm.ctx.ues.values())
        per_row: list[float] = []
        wall: list[float] = []
        for k in range(0, n, args.batch):
            for ue in ues[k:k + args.batch]:
                gmm.ctx.touch(ue)
            c0, w0 = time.process_time(), time.perf_counter()
            written = p.flush()
            per_row.append((time.process_time() - c0) / written)
            wall.append(time.perf_counter() - w0)
        rows.append((f"flush, batches of {args.batch} UEs into a file of up to {n:,}",
                     f"{statistics.median(per_row) * 1e6:.1f} µs CPU per UE (median), "
                     f"flush wall p99 {sorted(wall)[int(len(wall) * 0.99)] * 1e3:.1f} ms, "
                     f"max {max(wall) * 1e3:.1f} ms"))
        # the same UE marked several times in one period is written once
        for ue in ues[:args.batch]:
            for _ in range(3):
                gmm.ctx.touch(ue)
        assert p.flush() == args.batch
        # --- the synchronous reservation (a DL COUNT about to reach the stored ceiling) --------
        ue = ues[0]
        times = []
        for _ in range(200):
            ue.dl_ceiling = ue.sec.dl_count
            c0 = time.process_time()
            p.reserve(ue)
            times.append(time.process_time() - c0)
        rows.append(("synchronous DL COUNT reservation (one UPDATE + commit, WAL, synchronous=NORMAL)",
                     f"{statistics.median(times) * 1e6:.0f} µs CPU"))
        p.close()
        size_mb = path.stat().st_size / 2**20
        rows.append((f"file size, {n:,} UEs", f"{size_mb:.1f} MB ({size_mb * 2**20 / n:.0f} B per UE)"))
        del gmm, ues, ue, p
        gc.collect()

        # --- restart: read them back ----------------------------------------------------------
        gmm2 = Gmm(GmmConfig())
        p2 = AmfPersistence(gmm2, path, "bench")
        t0 = time.perf_counter()
        got = p2.open()
        dt = time.perf_counter() - t0
        assert got == n
        rows.append((f"restart: {n:,} UEs restored (before N2 listens)", f"{dt:.2f} s ({dt / n * 1e6:.0f} µs per UE)"))
        p2.close()
        del gmm2, p2
        gc.collect()

        # --- RAM: restored from the file vs the same contexts built in memory -------------------
        m = min(n, 20_000)
        small = Path(d) / "small.db"
        g = Gmm(GmmConfig())
        ps = AmfPersistence(g, small, "bench")
        ps.open()
        for i in range(m):
            g.ctx.touch(restore_ue(_record(i), g.ctx))
        ps.flush()
        ps.close()
        del g, ps
        gc.collect()
        g4 = Gmm(GmmConfig())
        p4 = AmfPersistence(g4, small, "bench")
        tracemalloc.start()
        p4.open()
        p4.flush()
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        g5 = Gmm(GmmConfig())
        tracemalloc.start()
        for i in range(m):
            restore_ue(_record(i), g5.ctx)
        cur5, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append((f"AMF RAM per UE, {m:,} restored from the file (tracemalloc)",
                     f"{cur / m:.0f} B (peak while restoring {peak / m:.0f} B)"))
        rows.append((f"AMF RAM per UE, the same {m:,} contexts built in memory, no file", f"{cur5 / m:.0f} B"))
        p4.close()
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
