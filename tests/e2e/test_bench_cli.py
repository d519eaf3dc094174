"""``fivecore bench attach`` end to end: the real core (``fivecore up``), the simulator, JSON out.

Numbers are not asserted (shared machine); the shape and the sanity of the report are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_bench_attach_json(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    r = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "bench", "attach", "--ues", "20", "--rate", "10",
                        "--json", "--slot", "5"], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["attaches"] == 20 and doc["failed"] == 0, doc.get("errors")
    assert 0 < doc["attaches_per_second"] <= 10 * 1.5
    lat = doc["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert doc["core_cpu_ms_per_attach"] > 0
    assert doc["core_cpu_ms_per_attach"] == pytest.approx(
        doc["cpu_ms_per_attach"]["core-cp"] + doc["cpu_ms_per_attach"]["upf"], abs=0.01)
    assert set(doc["rss_mb"]) == {"core-cp", "upf", "simulator"}
    assert all(v > 10 for v in doc["rss_mb"].values())
    # nothing left behind: the benchmark's N6 device is gone
    assert not Path("/sys/class/net/fcbench5").exists()
