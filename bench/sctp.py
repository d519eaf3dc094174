"""SCTP transport benchmark: NGAP-sized messages across two processes on loopback.

    .venv/bin/python bench/sctp.py [--duration 5] [--runs 3] [--uvloop] [--json] [--write-md]

* rr:      request/response round trips per second on one association, one outstanding
           request, 100-500 byte messages (target >= 5,000/s).
* oneway:  messages per second one way, 100-500 bytes, on 1 and on 4 associations
           (target >= 20,000/s aggregate); the server acknowledges the count at the end, so
           the time includes delivering every message.

The server runs in a subprocess (its own userspace SCTP stack); the backend is whatever
``SctpConfig(backend=...)`` resolves to (``--backend``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fivecore.transport import sctp  # noqa: E402

SECTION = "## SCTP transport (`bench/sctp.py`)"


def _payloads(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(100, 500)) for _ in range(n)]


# --- server process -------------------------------------------------------------------


async def _server(backend: str) -> None:
    cfg = sctp.SctpConfig(backend=backend)  # type: ignore[arg-type]

    def handle(a: sctp.SctpAssociation) -> None:
        count = 0

        def on_message(msg: sctp.Message) -> None:
            nonlocal count
            stream, ppid, data = msg
            if stream == 0:  # request/response
                a.send_nowait(data, stream=0, ppid=ppid)
            elif stream == 2:  # CPU seconds used by this process so far
                a.send_nowait(struct.pack("!d", time.process_time()), stream=2, ppid=ppid)
            elif data == b"count?":  # same stream as the data, so ordered after all of it
                a.send_nowait(struct.pack("!Q", count), stream=1, ppid=ppid)
                count = 0
            else:  # one-way sink
                count += 1

        a.set_message_handler(on_message)

    srv = await sctp.listen("127.0.0.1", 0, cfg, on_association=handle)
    print(f"PORT {srv.sockname[1]}", flush=True)
    await asyncio.Event().wait()


# --- client side ----------------------------------------------------------------------


async def _server_cpu(c: sctp.SctpAssociation) -> float:
    c.send_nowait(b"cpu?", stream=2)
    return struct.unpack("!d", (await c.recv()).data)[0]


async def _rr(port: int, cfg: sctp.SctpConfig, duration: float) -> tuple[float, float]:
    """Round trips/s, and CPU µs per round trip summed over both processes."""
    c = await sctp.connect("127.0.0.1", port, cfg)
    msgs = _payloads(1024)
    n = 0
    s0 = await _server_cpu(c)
    c0 = time.process_time()
    t0 = time.perf_counter()
    end = t0 + duration
    while True:
        for m in msgs[:256]:
            c.send_nowait(m, stream=0)
            await c.recv()
        n += 256
        if time.perf_counter() >= end:
            break
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0 + await _server_cpu(c) - s0
    c.close()
    await c.wait_closed()
    return n / dt, cpu / n * 1e6


async def _oneway(port: int, cfg: sctp.SctpConfig, duration: float, nassoc: int) -> float:
    assocs = [await sctp.connect("127.0.0.1", port, cfg) for _ in range(nassoc)]
    msgs = _payloads(1024)

    async def pump(c: sctp.SctpAssociation, stop: float) -> int:
        sent = 0
        while time.perf_counter() < stop:
            for m in msgs[:128]:
                await c.send(m, stream=1)
            sent += 128
        c.send_nowait(b"count?", stream=1)
        (got,) = struct.unpack("!Q", (await c.recv()).data)
        assert got == sent, (got, sent)
        return sent

    t0 = time.perf_counter()
    counts = await asyncio.gather(*[pump(c, t0 + duration) for c in assocs])
    dt = time.perf_counter() - t0
    for c in assocs:
        c.close()
    await asyncio.gather(*[c.wait_closed() for c in assocs])
    return sum(counts) / dt


async def _client(port: int, args: argparse.Namespace) -> dict[str, list[float]]:
    cfg = sctp.SctpConfig(backend=args.backend)
    res: dict[str, list[float]] = {"rr": [], "rr_cpu_us": [], "oneway_1": [], "oneway_4": []}
    for _ in range(args.runs):
        rate, cpu = await _rr(port, cfg, args.duration)
        res["rr"].append(rate)
        res["rr_cpu_us"].append(cpu)
        res["oneway_1"].append(await _oneway(port, cfg, args.duration, 1))
        res["oneway_4"].append(await _oneway(port, cfg, args.duration, 4))
    return res


def _run_loop(coro: object, use_uvloop: bool) -> object:
    if use_uvloop:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    return asyncio.run(coro)  # type: ignore[arg-type]


def _write_md(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    doc = path.read_text()
    start = doc.index(SECTION)
    nxt = doc.find("\n## ", start + len(SECTION))
    end = len(doc) if nxt < 0 else nxt + 1
    path.write_text(doc[:start] + text.rstrip() + "\n\n" + doc[end:])


def _measure(args: argparse.Namespace, use_uvloop: bool) -> dict[str, list[float]]:
    cmd = [sys.executable, __file__, "--serve", "--backend", args.backend] + (["--uvloop"] if use_uvloop else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        m = re.match(r"PORT (\d+)", proc.stdout.readline())
        if not m:
            sys.exit("server did not start")
        return _run_loop(_client(int(m.group(1)), args), use_uvloop)  # type: ignore[return-value]
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loop", default="both", choices=["asyncio", "uvloop", "both"])
    ap.add_argument("--uvloop", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="auto", choices=["auto", "kernel", "userspace"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--write-md", action="store_true", help="update the SCTP section of docs/benchmarks.md")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        _run_loop(_server(args.backend), args.uvloop)
        return
    if os.geteuid() != 0 and args.backend != "kernel":
        sys.exit("bench/sctp.py: the userspace backend needs root (raw sockets)")
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    load_before = os.getloadavg()[0]
    results = {lp: _measure(args, lp == "uvloop") for lp in loops}
    load_after = os.getloadavg()[0]
    med = {lp: {k: statistics.median(v) for k, v in r.items()} for lp, r in results.items()}
    backend = sctp.backend_for(args.backend)
    if args.json:
        print(json.dumps({"backend": backend, "median": med, "runs": results}))
    else:
        print(f"backend={backend} runs={args.runs} duration={args.duration}s (median)")
        for lp in loops:
            m = med[lp]
            print(f"  [{lp}] request/response, 1 association : {m['rr']:>9,.0f} round trips/s (target >= 5,000)")
            print(f"  [{lp}] CPU per round trip, both processes: {m['rr_cpu_us']:>9,.1f} us "
                  f"(CPU-bound ceiling {1e6 / m['rr_cpu_us']:,.0f}/s)")
            print(f"  [{lp}] one way, 1 association          : {m['oneway_1']:>9,.0f} messages/s")
            print(f"  [{lp}] one way, 4 associations         : {m['oneway_4']:>9,.0f} messages/s (target >= 20,000)")
    if args.write_md:
        def cell(lp: str, k: str) -> str:
            r = results[lp][k]
            if k == "rr_cpu_us":
                med_ = statistics.median(r)
                return f"{med_:,.0f} µs (ceiling {1e6 / med_:,.0f}/s)"
            return f"{statistics.median(r):,.0f} ({min(r):,.0f}-{max(r):,.0f})"

        head = "| Measure | " + " | ".join(loops) + " | Target |\n|---|" + "---|" * len(loops) + "---|\n"
        rows = [
            ("Request/response round trips/s, 1 association", "rr", ">= 5,000 (usrsctp ~6,900)"),
            ("CPU per round trip, client + server processes", "rr_cpu_us", "<= 200 µs (= 5,000/s)"),
            ("One-way messages/s, 1 association", "oneway_1", ""),
            ("One-way messages/s, 4 associations (aggregate)", "oneway_4", ">= 20,000"),
        ]
        body = "".join(f"| {name} | " + " | ".join(cell(lp, k) for lp in loops) + f" | {tgt} |\n"
                       for name, k, tgt in rows)
        _write_md(
            f"{SECTION}\n\n"
            f"Backend `{backend}` (raw IPv4 sockets; this machine has no kernel SCTP). Server and client\n"
            f"in two processes on loopback, 100-500 byte messages, MTU 1500; median (min-max) of\n"
            f"{args.runs} runs of {args.duration:g} s; 1-minute load average {load_before:.1f} before and\n"
            f"{load_after:.1f} after on the shared 2-core VM (other engineers' tests running), so the\n"
            f"spread is mostly the neighbours. Run: `.venv/bin/python bench/sctp.py --write-md`.\n\n"
            + head + body
        )


if __name__ == "__main__":
    main()
