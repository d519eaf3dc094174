"""Per-process CPU and RSS sampling (fivecore.benchkit.procs) on real processes of this host."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fivecore.benchkit.procs import PeakRss, ProcessSet, ProcStat, Snapshot


def test_snapshot_arithmetic() -> None:
    a = Snapshot({"core": ProcStat(1.0, 0.5, 100 << 20), "sim": ProcStat(2.0, 0.0, 50 << 20)})
    b = Snapshot({"core": ProcStat(1.5, 1.0, 110 << 20), "sim": ProcStat(2.25, 0.0, 60 << 20)})
    assert b.cpu_delta(a) == {"core": pytest.approx(1.0), "sim": pytest.approx(0.25)}
    assert b.cpu_delta(a, ["core"]) == {"core": pytest.approx(1.0)}
    assert b.rss_mb() == {"core": 110.0, "sim": 60.0}
    # a process that went away is absent rather than a crash
    assert Snapshot({}).cpu_delta(a) == {}


def test_cpu_is_charged_to_the_process_that_burnt_it() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys\nx=0\nfor i in range(6_000_000): x+=i\n"
                              "sys.stdout.write('done\\n'); sys.stdout.flush(); sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        ps = ProcessSet({"child": child.pid, "me": os.getpid()})
        before = ps.snapshot()
        assert child.stdout is not None and child.stdout.readline() == b"done\n"
        after = ps.snapshot()
        d = after.cpu_delta(before)
        assert d["child"] > 0.0
        assert after.stats["child"].rss > 0 and after.stats["me"].rss > 0
    finally:
        child.kill()
        child.wait()


def test_dead_process_is_skipped() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    ps = ProcessSet({"gone": p.pid, "me": os.getpid()})
    assert set(ps.snapshot().stats) <= {"me", "gone"}
    assert "me" in ps.snapshot().stats


def test_peak_rss_sees_a_transient_allocation() -> None:
    # A fresh child process: the test runner itself may hold freed-but-resident memory that a
    # new allocation would reuse without RSS growing.
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "sys.stdin.readline()\n"
        "blob = bytearray(64 << 20)\n"
        "for i in range(0, len(blob), 4096): blob[i] = 1\n"
        "print('allocated', flush=True)\n"
        "sys.stdin.readline()\n"
        "del blob\n"
    )], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ps = ProcessSet({"child": child.pid})
        base = ps.snapshot().stats["child"].rss
        with PeakRss(ps, interval=0.01) as peak:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "allocated"
            peak._sample()
            child.stdin.write("free\n")
            child.stdin.flush()
        assert peak.peak["child"] >= base + (48 << 20)
        assert peak.peak_mb()["child"] > 0
    finally:
        child.kill()
        child.wait()
