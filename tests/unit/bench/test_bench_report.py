"""Report pieces: the docs section between markers, tables, verdicts, the PNG, profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from fivecore.benchkit.driver import DriveResult, Outcome
from fivecore.benchkit.profile import parse_collapsed, summarize
from fivecore.benchkit.report import (
    END,
    START,
    attach_table_md,
    best_sustained,
    p99_at,
    plot_latency,
    replace_section,
    targets_md,
    write_section,
)


def run(rate: float, p99: float, per_s: float, failed: int = 0, cpu: float = 3.0) -> dict:
    return {"offered_rate": rate, "attaches": 100, "failed": failed, "attaches_per_second": per_s,
            "latency_ms": {"p50": p99 / 3, "p90": p99 / 2, "p99": p99}, "core_cpu_ms_per_attach": cpu,
            "cpu_ms_per_attach": {"core-cp": cpu, "upf": 0.1, "simulator": 2.0},
            "rss_mb": {"core-cp": 120.0, "upf": 40.0, "simulator": 80.0}}


def test_replace_section_leaves_the_rest_alone() -> None:
    doc = "# Benchmarks\n\n## Codecs\nfast\n\n" + START + "\nold\n" + END + "\n\n## Later section\nkept\n"
    new = replace_section(doc, "## Whole network\nnew")
    assert new.startswith("# Benchmarks\n\n## Codecs\nfast\n\n")
    assert new.endswith("\n\n## Later section\nkept\n")
    assert "old" not in new and "## Whole network\nnew" in new
    assert replace_section(new, "## Whole network\nnew") == new  # idempotent


def test_replace_section_appends_when_absent(tmp_path: Path) -> None:
    assert replace_section("", "x") == f"{START}\nx\n{END}\n"
    assert replace_section("a\n", "x") == f"a\n\n{START}\nx\n{END}\n"
    p = tmp_path / "b.md"
    p.write_text("# B\n")
    write_section(p, "one")
    write_section(p, "two")
    text = p.read_text()
    assert text.count(START) == 1 and "two" in text and "one" not in text and text.startswith("# B\n")


def test_section_text_with_backslashes_is_literal() -> None:
    # re.sub would treat "\1" or "\g<0>" in the replacement as group references
    assert "\\1 \\g<0>" in replace_section(f"{START}\n{END}\n", "\\1 \\g<0>")


def test_tables_and_verdicts() -> None:
    runs = [run(100, 20, 100), run(250, 40, 249), run(500, 900, 310), run(750, 5000, 320, failed=7)]
    md = attach_table_md(runs)
    assert md.count("\n") == len(runs) + 1 and "| 250 | 100 | 0 | 249.0 |" in md
    assert best_sustained(runs) == 310
    assert p99_at(runs, 250) == 40 and p99_at(runs, 123) is None
    t = targets_md({"runs": runs}, {"registered": 100_000, "ues": 100_000, "core_rss_gb": 1.5}, 0.8)
    lines = {ln.split("|")[1].strip(): ln for ln in t.splitlines()[2:]}
    assert "**missed**" in lines["≥ 500 attaches/s sustained"]
    assert "**holds**" in lines["p99 ≤ 50 ms at 250 attaches/s"]
    assert "**missed**" in lines["≤ 2 ms core CPU per attach"]
    assert "**holds**" in lines["100,000 UEs in ≤ 2 GB core RSS"]
    assert "**missed**" in lines["UPF ≥ 1 Gbit/s at 1400 B, one core"]
    t2 = targets_md(None, {"registered": 5, "ues": 100_000, "core_rss_gb": 0.1}, None)
    assert "not reached" in t2 and "not measured here" in t2


def test_cpu_verdict_names_the_500_per_second_point() -> None:
    """The CPU target is met only where it is met: the best rate alone does not make 500/s."""
    def line(runs: list[dict]) -> str:
        t = targets_md({"runs": runs}, None, None)
        return next(ln for ln in t.splitlines() if ln.startswith("| ≤ 2 ms core CPU"))

    both = line([run(500, 60, 499, cpu=1.95), run(600, 90, 598, cpu=1.7)])
    assert "1.70 ms (lowest over the sweep, at 600/s offered); 1.95 ms at 500/s" in both
    assert both.endswith("| **holds** |")
    edge = line([run(500, 60, 499, cpu=2.09), run(600, 90, 598, cpu=1.83)])
    assert "2.09 ms at 500/s" in edge and "**holds at 600/s, not at 500/s**" in edge
    assert line([run(500, 60, 499, cpu=2.3), run(600, 90, 598, cpu=2.1)]).endswith("| **missed** |")


def test_plot_is_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the bench/test extras")
    out = plot_latency([run(100, 20, 100), run(250, 40, 249), run(500, 900, 310)], tmp_path / "p.png", "t")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_attach_row_from_outcomes() -> None:
    from fivecore.benchkit.attach import attach_row

    res = DriveResult(offered_rate=100.0, t0=0.0)
    res.outcomes = [Outcome(i, i * 0.01, i * 0.01, i * 0.01 + 0.02, ok=True) for i in range(99)]
    res.outcomes.append(Outcome(99, 0.99, 0.99, 1.5, ok=False, error="AttachError: registration ended DEREGISTERED"))
    row = attach_row(res, {"core-cp": 0.5, "upf": 0.05, "simulator": 0.3}, {"core-cp": 100.0}, {"core-cp": 101.0},
                     core=["core-cp", "upf"])
    assert row["attaches"] == 99 and row["failed"] == 1
    assert row["core_cpu_ms_per_attach"] == pytest.approx(1000 * 0.55 / 99, abs=1e-3)
    assert row["cpu_ms_per_attach"]["simulator"] == pytest.approx(1000 * 0.3 / 99, abs=1e-3)
    assert row["latency_ms"]["p50"] == pytest.approx(20.0)
    assert row["attaches_per_second"] == pytest.approx(99 / 1.5, abs=0.1)
    assert list(row["errors"].values()) == [1]


COLLAPSED = """\
<module> (fivecore/cli/main.py:66);run (asyncio/runners.py:190);put_context (/x/src/fivecore/store/repository.py:10);execute (/x/site-packages/sqlalchemy/engine/base.py:1) 30
<module> (fivecore/cli/main.py:66);run (asyncio/runners.py:190);on_ngap (/x/src/fivecore/nf/amf/ngap_handler.py:5);decode (pycrate_asn1rt/codecs.py:9) 50
<module> (fivecore/cli/main.py:66);run (asyncio/runners.py:190);transmit (/x/src/fivecore/transport/sctp/userspace.py:3) 20
garbage line
"""


def test_profile_summary() -> None:
    stacks = parse_collapsed(COLLAPSED)
    assert len(stacks) == 3 and stacks[0][1] == 30 and stacks[0][0][-1][0] == "execute"
    s = summarize(COLLAPSED)
    assert s["samples"] == 100
    areas = dict(s["areas"])
    assert areas["pycrate (NGAP/NAS ASN.1 codecs)"] == 50.0
    assert areas["subscriber store (SQLAlchemy/SQLite)"] == 30.0
    assert areas["SCTP transport"] == 20.0
    incl = dict(s["inclusive"])
    assert not any("runners" in k or "cli/main" in k for k in incl)   # wrappers carry no information
    assert incl["on_ngap (fivecore/nf/amf/ngap_handler.py)"] == 50.0


def test_whole_section_renders_partial_and_full_results() -> None:
    from fivecore.benchkit.report import whole_network_md

    assert "Not run." in whole_network_md({}, None, None)
    scale = {"ues": 1000, "registered": 1000, "idle": 1000, "sessions": True, "offered_rate": 500.0,
             "max_in_flight": 64, "attaches_per_second": 50.0, "layout": "up",
             "rss_mb_before": {"core-cp": 100.0, "upf": 40.0}, "rss_mb": {"core-cp": 120.0, "upf": 45.0},
             "kb_per_ue": {"core-cp": 20.5, "upf": 5.1}, "core_rss_gb": 0.16, "core_cpu_ms_per_attach": 8.0}
    res = {"machine": {"cpu": "X", "cores": 2}, "started": "now", "attach": {"runs": [run(100, 30, 99)]},
           "profile": {"rate": 100.0, "ues": 10, "run": run(100, 30, 99), "summary": summarize(COLLAPSED)},
           "scale": scale, "scale_split": {**scale, "layout": "split"},
           "calls": {"attaches": 10, "rows": [
               {"call": "store get", "per_attach": 7.0, "cpu_ms_per_attach": 2.0},
               {"call": "store put_context", "per_attach": 3.0, "cpu_ms_per_attach": 2.0},
               {"call": "SBI GET /x", "per_attach": 20.0, "cpu_ms_per_attach": None}]}}
    md = whole_network_md(res, "| c |", 1.2)
    assert "read 7 times" in md and "4.0 ms of CPU per attach in the store" in md and "about 20 SBI" in md
    assert "spent 3.0 ms per attach" in md
    assert md.startswith("## Whole network (`make bench`)")
    assert "latency-vs-load.png" in md and "| core-cp | 100 | 120 | 20.5 |" in md
    assert "one process per NF" in md and "| c |" in md and "pycrate" in md
    assert "| 100 | 100 | 0 | 99.0 |" in md and "| 333 |" in md  # CP-bound = 1000 / 3 ms
    assert whole_network_md({"scale": {"error": "boom"}}, None, None).count("failed: `boom`") == 1


def test_call_counts_per_attach() -> None:
    from fivecore.benchkit.callcount import fold, per_attach
    from fivecore.benchkit.report import calls_md

    assert fold("/nudm-sdm/v2/imsi-001010000000001/am-data?plmn-id=1") == "/nudm-sdm/v2/{ue}/am-data"
    assert fold("/nausf-auth/v1/ue-authentications/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/5g-aka-confirmation") == \
        "/nausf-auth/v1/ue-authentications/{id}/5g-aka-confirmation"
    doc = {"counts": {"store get": 700, "SBI GET /x": 100, "SBI PUT /nnrf": 3}, "cpu": {"store get": 0.2}}
    rows = per_attach(doc, 100)
    assert [r["call"] for r in rows] == ["store get", "SBI GET /x"]
    assert rows[0] == {"call": "store get", "per_attach": 7.0, "cpu_ms_per_attach": 2.0}
    assert "| `store get` | 7 | 2.00 |" in calls_md(rows)


def test_failed_run_at_250_is_reported_as_such() -> None:
    runs = [run(100, 20, 100), {**run(250, 3000, 1.1, failed=1957), "attaches": 43}]
    t = targets_md({"runs": runs}, None, None)
    line = next(ln for ln in t.splitlines() if "250 attaches/s" in ln)
    assert "1,957 of 2,000 attaches failed; p99 of the rest 3000 ms" in line and "**missed**" in line


def test_a_control_plane_busy_the_whole_run_is_said_so() -> None:
    """CP busy column; when the control plane never idled, its CPU per attach is 1000/rate and the
    report says so even though nothing failed."""
    from fivecore.benchkit.report import attach_table_md, overload_md

    quiet = {**run(250, 20, 249.8, cpu=3.0), "cpu_utilisation": {"core-cp": 0.75, "upf": 0.07}}
    busy = {**run(500, 60, 498.4, cpu=2.0), "cpu_utilisation": {"core-cp": 0.998, "upf": 0.09}}
    table = attach_table_md([quiet, busy, run(100, 10, 100.0)])
    assert "| CP busy |" in table and "| 75 % |" in table and "| 100 % |" in table and "| – |" in table
    text = overload_md([quiet, busy])
    assert "busy almost the whole run at 500/s (100 %)" in text and "250/s (" not in text
    assert "Above capacity" not in text
    assert "busy almost" not in overload_md([quiet])
