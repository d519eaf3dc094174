"""The report with an AMF Set sweep beside the single-process one (``make bench``'s attach_set)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fivecore.benchkit.report import (
    attach_table_md,
    cp_bound,
    plot_latency,
    targets_md,
    whole_network_md,
)


def set_run(rate: float, per_s: float, failed: int = 0, cp: tuple[float, float] = (1.2, 1.0)) -> dict:
    return {"offered_rate": rate, "attaches": 100, "failed": failed, "attaches_per_second": per_s,
            "latency_ms": {"p50": 10.0, "p90": 20.0, "p99": 30.0}, "core_cpu_ms_per_attach": sum(cp) + 0.3,
            "cpu_ms_per_attach": {"core-cp": cp[0], "core-cp2": cp[1], "upf": 0.3, "simulator": 1.0},
            "rss_mb": {"core-cp": 120.0, "core-cp2": 100.0, "upf": 40.0, "simulator": 80.0}}


def single_run(rate: float, per_s: float, failed: int = 0) -> dict:
    return {"offered_rate": rate, "attaches": 100, "failed": failed, "attaches_per_second": per_s,
            "latency_ms": {"p50": 10.0, "p90": 20.0, "p99": 30.0}, "core_cpu_ms_per_attach": 2.6,
            "cpu_ms_per_attach": {"core-cp": 2.3, "upf": 0.3, "simulator": 1.0},
            "rss_mb": {"core-cp": 150.0, "upf": 40.0, "simulator": 80.0}}


def test_members_add_up_in_the_table_and_the_busier_one_bounds_the_rate() -> None:
    r = set_run(500, 499.0, cp=(1.25, 1.0))
    md = attach_table_md([r])
    assert "| 2.2 / 0.30 / 1.0 |" in md  # CP = both members
    assert "| 220 / 40 / 80 |" in md      # RSS of both members
    assert cp_bound(r) == pytest.approx(800.0)


def test_targets_take_the_better_layout_and_name_both() -> None:
    single = {"runs": [single_run(250, 249), single_run(500, 430, failed=40)]}
    aset = {"runs": [set_run(250, 249), set_run(500, 501)], "members": 2}
    t = targets_md(single, None, None, aset)
    row = next(ln for ln in t.splitlines() if ln.startswith("| ≥ 500 attaches/s"))
    assert "**holds**" in row and "AMF Set of 2" in row and "501.0" in row and "249.0" in row
    t1 = targets_md(single, None, None, None)
    assert "**missed**" in next(ln for ln in t1.splitlines() if ln.startswith("| ≥ 500 attaches/s"))
    cpu_row = next(ln for ln in t.splitlines() if ln.startswith("| ≤ 2 ms core CPU"))
    assert "2.50 ms" in cpu_row  # the lowest over both sweeps (set runs: 1.2 + 1.0 + 0.3)


def test_section_and_plot_show_the_set_sweep(tmp_path: Path) -> None:
    results = {"machine": {"cores": 2}, "attach": {"runs": [single_run(250, 249)]},
               "attach_set": {"runs": [set_run(250, 249), set_run(500, 499)], "members": 2}}
    md = whole_network_md(results, None, None)
    assert "AMF Set of 2 — `fivecore bench attach --amf-set 2`" in md
    assert md.count("| 500 | 100 | 0 | 499.0 |") == 1
    pytest.importorskip("matplotlib", reason="matplotlib is in the bench/test extras")
    out = plot_latency(results["attach"]["runs"], tmp_path / "p.png", "t",
                       other=("AMF Set of 2", results["attach_set"]["runs"]))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
