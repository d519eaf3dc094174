"""`fivecore bench` argument checking: a user mistake is one clear line, before anything starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fivecore.cli.bench import repo_root


@pytest.mark.parametrize(("args", "msg"), [
    (["attach", "--ues", "0", "--rate", "5"], "--ues must be at least 1"),
    (["attach", "--rate", "-1"], "--rate must be a positive number"),
    (["attach", "--arrivals", "bursty"], "--arrivals must be uniform or poisson"),
    (["scale", "--layout", "cloud"], "--layout must be split"),
])
def test_bad_arguments_one_line(args: list[str], msg: str) -> None:
    r = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "bench", *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [f"fivecore: error: {lines[0].removeprefix('fivecore: error: ')}"] and msg in lines[0]


def test_upf_bench_script_is_found() -> None:
    assert (repo_root() / "bench" / "upf.py").exists()
