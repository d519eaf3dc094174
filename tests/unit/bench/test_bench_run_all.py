"""Helpers of bench/run_all.py (``make bench``): reading the component benchmarks' results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "bench" / "run_all.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


UPF = {"name": "upf", "status": "ok", "seconds": 100.0, "json": {"forwarding": {"rows": [
    {"dir": "ul", "size": 64, "gbps": 0.05}, {"dir": "ul", "size": 1400, "gbps": 1.31},
    {"dir": "dl", "size": 1400, "gbps": 0.97}]}, "pfcp": None}}


def test_upf_gbit_is_the_lower_direction() -> None:
    ra = load()
    assert ra.upf_gbit_1400(UPF) == 0.97
    assert ra.upf_gbit_1400(None) is None
    assert ra.upf_gbit_1400({"name": "upf", "status": "failed"}) is None
    assert ra.upf_gbit_1400({"json": {"forwarding": None}}) is None


def test_component_table() -> None:
    ra = load()
    md = ra.component_md([UPF, {"name": "smf", "status": "absent"},
                          {"name": "sctp", "status": "ok", "seconds": 3.0,
                           "json": {"median": {"uvloop": {"rr": 5000.4, "rr_cpu_us": 1.0}}}}])
    assert "| `bench/upf.py` | ok | 100.0 | UL 1400 B 1.31 Gbit/s, DL 1400 B 0.97 Gbit/s |" in md
    assert "| `bench/smf.py` | absent | – |  |" in md
    assert "uvloop: rr 5,000 |" in md


def test_every_component_has_a_quick_form() -> None:
    ra = load()
    for name, (full, quick, timeout) in ra.COMPONENTS.items():
        assert isinstance(full, list) and isinstance(quick, list) and timeout > 0, name
