#!/usr/bin/env python3
"""What one wake-up costs on this machine: CPU per message of a UDP echo process on loopback,
one message per wake-up, at several message rates (session 7, issue 9).

    .venv/bin/python bench/wakeup_cost.py [--rates 200 1000 3000 8000] [--seconds 4]

The echo does the same small piece of work for every message (about 15 µs); only the rate
changes. If CPU per message falls as the rate rises, the difference is the price of sleeping
between messages (scheduler, cold caches), which the control plane pays at every wake-up too.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import time


def _echo(sock: socket.socket, out: int) -> None:
    while True:
        data, addr = sock.recvfrom(2048)
        if data == b"q":
            break
        x = 0
        for i in range(300):  # the fixed piece of work per message
            x += i
        sock.sendto(data, addr)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    os.write(out, f"{ru.ru_utime + ru.ru_stime:.6f}".encode())


def cpu_per_message(rate: float, seconds: float) -> float:
    """Microseconds of the echo process's CPU per message at ``rate`` messages per second."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the echo process
        os.close(r)
        try:
            _echo(srv, w)
        finally:
            os._exit(0)
    os.close(w)
    cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cli.settimeout(5)
    n = int(rate * seconds)
    t0 = time.perf_counter()
    try:
        for k in range(n):
            left = t0 + k / rate - time.perf_counter()
            if left > 0.0002:
                time.sleep(left)
            cli.sendto(b"x" * 100, srv.getsockname())
            cli.recv(2048)
        cli.sendto(b"q", srv.getsockname())
        cpu = float(os.read(r, 64).decode())
    finally:
        os.close(r)
        os.waitpid(pid, 0)
        cli.close()
        srv.close()
    return 1e6 * cpu / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[200, 1000, 3000, 8000])
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    print("| messages/s | echo CPU per message (µs) |")
    print("|---|---|")
    for rate in a.rates:
        print(f"| {rate:,.0f} | {cpu_per_message(rate, a.seconds):.1f} |")


if __name__ == "__main__":
    main()
