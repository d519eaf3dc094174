"""``fivecore bench scale`` and SIGINT/SIGTERM: a real process gets a real signal.

The first signal asks the benchmark to wind down and report what it reached; a second one
cancels it (its clean-up still runs). Before, a stalled scale run ignored SIGINT and had to be
killed, losing every number it had measured.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PROG = """
import asyncio, json, os, signal, sys
from fivecore.cli.bench import _run
from fivecore.errors import FivecoreError

stop = asyncio.Event()
sig = getattr(signal, sys.argv[1])
n = int(sys.argv[2])

async def bench():
    loop = asyncio.get_running_loop()
    for k in range(n):
        loop.call_later(0.3 * (k + 1), os.kill, os.getpid(), sig)
    try:
        await stop.wait()
        await asyncio.sleep(3600)  # a wind-down that hangs: only a second signal ends it
    except asyncio.CancelledError:
        print(json.dumps({"cleanup": True}), flush=True)
        raise
    return {"interrupted": True}

async def first_signal_only():
    asyncio.get_running_loop().call_later(0.3, os.kill, os.getpid(), sig)
    await stop.wait()
    return {"interrupted": True, "reached": 42}

try:
    r = _run(first_signal_only() if n == 1 else bench(), stop=stop)
    print(json.dumps(r), flush=True)
except FivecoreError as exc:
    print(json.dumps({"error": str(exc)}), flush=True)
    sys.exit(1)
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_first_signal_reports_partial_result(sig: str) -> None:
    p = subprocess.run([sys.executable, "-c", PROG, sig, "1"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"interrupted": True, "reached": 42}


def test_second_signal_cancels_and_cleanup_runs() -> None:
    p = subprocess.run([sys.executable, "-c", PROG, "SIGINT", "2"], capture_output=True, text=True, timeout=60)
    lines = [json.loads(x) for x in p.stdout.strip().splitlines()]
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert lines[0] == {"cleanup": True}
    assert "interrupted" in lines[-1]["error"]
