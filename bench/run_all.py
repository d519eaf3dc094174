#!/usr/bin/env python3
"""``make bench``: every benchmark of the project, then the whole-network section of
docs/benchmarks.md (between ``<!-- make-bench:start -->`` and ``<!-- make-bench:end -->``; the
other sections belong to the engineers of each layer and are left alone) and
docs/latency-vs-load.png.

1. component benchmarks that exist in bench/ (crypto, codec, sctp, sbi, registration, smf, upf),
   each with ``--json`` where it has one (its printed table otherwise), each bounded in time;
2. the attach sweep: ``fivecore bench attach`` at several offered rates (open-loop arrivals),
   then the same with the control plane as an AMF Set of two processes (``--amf-set 2``);
3. a profiled sustained attach run (py-spy on the control-plane process);
4. ``fivecore bench scale``: N UEs registered with a PDU session each, then idle;
5. the docs section and the plot.

    sudo .venv/bin/python bench/run_all.py [--quick] [--skip upf,scale] [--only attach]
        [--rates 10,25,50,100,250,500,600] [--set-rates 250,400,500,600] [--scale-ues 100000] [--out DIR]

Raw results (JSON and logs) go to ``--out`` (default a new directory under /tmp).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PY = sys.executable

#: name -> (full arguments, --quick arguments, timeout in seconds)
COMPONENTS: dict[str, tuple[list[str], list[str], float]] = {
    "crypto": ([], ["--quick"], 600),
    "codec": ([], ["--number", "500", "--repeat", "3"], 600),
    "sctp": ([], ["--duration", "1", "--runs", "1"], 600),
    "sbi": ([], ["--quick"], 900),
    "registration": ([], ["--ues", "1000", "--half-ues", "200"], 1800),
    "smf": ([], ["--sessions", "1000"], 900),
    "upf": ([], ["--quick"], 2400),
}

ALL_STEPS = ("components", "attach", "attach_set", "profile", "calls", "scale", "scale_split", "docs")


def log(msg: str) -> None:
    print(f"[make bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_component(name: str, quick: bool, out: Path) -> dict[str, Any]:
    """Run bench/<name>.py; JSON if it speaks it, its text otherwise; never raises."""
    script = REPO / "bench" / f"{name}.py"
    if not script.exists():
        return {"name": name, "status": "absent"}
    full, fast, timeout = COMPONENTS[name]
    args = list(fast if quick else full)
    speaks_json = '"--json"' in script.read_text()
    if speaks_json:
        args.append("--json")
    t0 = time.perf_counter()
    try:
        r = subprocess.run([PY, str(script), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"name": name, "status": f"timed out after {timeout:.0f}s", "seconds": timeout}
    secs = time.perf_counter() - t0
    (out / f"{name}.stdout").write_text(r.stdout)
    (out / f"{name}.stderr").write_text(r.stderr)
    res: dict[str, Any] = {"name": name, "seconds": round(secs, 1), "args": args}
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()
        res["status"] = f"failed (exit {r.returncode}): {tail[-1][:200] if tail else 'no output'}"
        return res
    res["status"] = "ok"
    if speaks_json:
        try:
            res["json"] = json.loads(r.stdout[r.stdout.index("{"):])
        except ValueError:
            res["text"] = r.stdout
    else:
        res["text"] = r.stdout
    return res


def upf_gbit_1400(upf: dict[str, Any] | None) -> float | None:
    """The lower of UL and DL Gbit/s at 1400-byte packets from bench/upf.py --json."""
    try:
        rows = upf["json"]["forwarding"]["rows"]  # type: ignore[index]
        vals = [float(r["gbps"]) for r in rows if int(r["size"]) == 1400]
        return min(vals) if vals else None
    except (KeyError, TypeError, ValueError):
        return None


def component_md(results: list[dict[str, Any]]) -> str:
    lines = ["| script | result | time s | headline |", "|---|---|---:|---|"]
    for r in results:
        status = r["status"] if len(r["status"]) <= 120 else r["status"][:117] + "..."
        lines.append(f"| `bench/{r['name']}.py` | {status} | {r.get('seconds', '–')} | {headline(r)} |")
    return "\n".join(lines)


def headline(r: dict[str, Any]) -> str:
    """One line from a component's result where we know its shape; its own section has the rest."""
    j = r.get("json") or {}
    try:
        if r["name"] == "registration" and j:
            keys = [k for k in j if any(s in k for s in ("per_s", "p99", "cpu"))][:4]
            return ", ".join(f"{k} {j[k]}" for k in keys)
        if r["name"] == "upf" and j.get("forwarding"):
            return ", ".join(f"{x['dir'].upper()} {x['size']} B {float(x['gbps']):.2f} Gbit/s"
                             for x in j["forwarding"]["rows"] if int(x["size"]) == 1400)
        if r["name"] == "sctp" and isinstance(j.get("median"), dict):
            parts = []
            for loop, m in j["median"].items():
                if isinstance(m, dict):
                    parts.append(f"{loop}: " + ", ".join(f"{k} {v:,.0f}" for k, v in m.items()
                                                        if isinstance(v, int | float) and "cpu" not in k))
            return "; ".join(parts)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return "see its own section" if r.get("status") == "ok" else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs everywhere (noisier)")
    ap.add_argument("--skip", default="", help="comma-separated: components,attach,profile,scale,docs or a script name")
    ap.add_argument("--only", default="", help="comma-separated steps to run (default all)")
    ap.add_argument("--rates", default="", help="offered attach rates (default 10,25,50,100,250,500,600)")
    ap.add_argument("--set-rates", default="", help="offered rates for the AMF Set sweep (default 250,400,500,600)")
    ap.add_argument("--seconds-per-rate", type=float, default=0.0, help="offered seconds per rate (default 8, quick 3)")
    ap.add_argument("--scale-ues", type=int, default=0, help="UEs for the scale run (default 100000, quick 5000)")
    # (scale runs fivecore up's layout, scale_split one process per NF with fewer UEs)
    ap.add_argument("--scale-rate", type=float, default=0.0, help="offered attaches/s for the scale run")
    ap.add_argument("--scale-from", default="", help="take the scale result from this JSON file "
                    "(`fivecore bench scale --json` output) instead of running it")
    ap.add_argument("--out", default="", help="directory for raw results")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/run_all.py needs root (the core's TUN device, raw-IP SCTP, namespaces)", file=sys.stderr)
        return 2
    skip = {s for s in args.skip.split(",") if s}
    only = {s for s in args.only.split(",") if s}
    steps = [s for s in ALL_STEPS if (not only or s in only) and s not in skip]
    rates = [float(x) for x in args.rates.split(",") if x] or ([25, 50, 100, 250] if args.quick
                                                               else [10, 25, 50, 100, 250, 500, 600])
    per_rate = args.seconds_per_rate or (3.0 if args.quick else 8.0)
    scale_ues = args.scale_ues or (5000 if args.quick else 100_000)
    out = Path(args.out or tempfile.mkdtemp(prefix="fivecore-make-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    log(f"raw results in {out}")
    sys.path.insert(0, str(REPO / "src"))
    from fivecore.benchkit.attach import attach_bench, machine, scale_bench
    from fivecore.cli.bench import _run, attach_cmd_impl

    results: dict[str, Any] = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "quick": args.quick}
    prev = out / "results.json"
    if args.out and prev.exists():
        # steps run earlier into the same --out directory are kept (and re-used by docs)
        results = {**json.loads(prev.read_text()), **results}

    loaded = dict(results)

    def save() -> None:
        # another run_all may write into the same --out meanwhile: merge only what this one
        # produced (a step assigns a new object to its key)
        disk = json.loads(prev.read_text()) if prev.exists() else {}
        disk.update({k: v for k, v in results.items() if k not in disk or loaded.get(k) is not v})
        if set(steps) - {"docs"}:  # this run measured something: its machine and time head the page
            disk.update({k: results[k] for k in ("machine", "started", "quick")})
        prev.write_text(json.dumps(disk, indent=1))

    if "components" in steps:
        # results of components run earlier into the same --out are kept unless run again
        by_name = {c["name"]: c for c in results.get("components") or []}
        for name in COMPONENTS:
            if name in skip:
                continue
            log(f"bench/{name}.py")
            by_name[name] = run_component(name, args.quick, out)
            log(f"bench/{name}.py: {by_name[name]['status']}")
            results["components"] = [by_name[n] for n in COMPONENTS if n in by_name]
            save()

    def done(r: dict[str, Any]) -> None:
        log(f"attach {r['offered_rate']:g}/s: {r['attaches']} ok, {r['failed']} failed, "
            f"{r['attaches_per_second']}/s, p99 {r['latency_ms']['p99']} ms, "
            f"core CPU {r['core_cpu_ms_per_attach']} ms/attach")

    if "attach" in steps:
        # each rate gets about per_rate seconds of offered load (and at least 200 attaches);
        # one core serves the whole sweep, fresh subscribers for every rate
        counts = [max(200, int(rate * per_rate)) for rate in rates]


        rep = _run(attach_bench(counts, rates, slot=0, say=log, on_run=done))
        runs = rep["runs"]
        results["attach"] = {"runs": runs, "layout": rep["layout"]}
        save()

    if "attach_set" in steps:
        # the same sweep with the control plane as two AMF Set members (up.amf_set_size: 2), at
        # the rates where one process runs out of core
        set_rates = [float(x) for x in args.set_rates.split(",") if x] or ([250, 500] if args.quick
                                                                         else [250, 400, 500, 600])
        counts = [max(200, int(rate * per_rate)) for rate in set_rates]
        rep = _run(attach_bench(counts, set_rates, slot=0, amf_set=2, say=log, on_run=done))
        results["attach_set"] = {"runs": rep["runs"], "layout": rep["layout"], "members": 2}
        save()

    if "profile" in steps:
        rate = float(os.environ.get("FIVECORE_PROFILE_RATE", "40"))
        n = int(rate * (5 if args.quick else 20))
        log(f"profile: {n} attaches at {rate:g}/s under py-spy")
        try:
            rep = attach_cmd_impl(n, [rate], 1, "uniform", "warning", out / "core-cp.collapsed", True, slot=1)
            results["profile"] = {"rate": rate, "ues": n, "run": rep["runs"][0], "summary": rep.get("profile")}
        except Exception as exc:  # the rest of the report is still worth writing
            results["profile"] = {"error": f"{type(exc).__name__}: {exc}"}
        save()

    if "calls" in steps:
        log("calls: SBI requests and store calls per attach (200 attaches at 20/s, counting wrappers)")
        try:
            rep = attach_cmd_impl(200, [20.0], 1, "uniform", "warning", None, True, slot=1, calls=True)
            results["calls"] = {"attaches": rep["attaches"], "rows": rep.get("calls") or []}
        except Exception as exc:
            results["calls"] = {"error": f"{type(exc).__name__}: {exc}"}
        save()

    if "scale" in steps and args.scale_from:
        results["scale"] = json.loads(Path(args.scale_from).read_text())
        results["scale"]["source"] = args.scale_from
    elif "scale" in steps:
        srate = args.scale_rate or 500.0
        log(f"scale: {scale_ues:,} UEs (offered {srate:g}/s, at most 64 in flight), one PDU session each, then idle")
        try:
            results["scale"] = _run(scale_bench(scale_ues, rate=srate, slot=2, layout="up", say=log))
        except Exception as exc:
            results["scale"] = {"error": f"{type(exc).__name__}: {exc}", "ues": scale_ues, "registered": 0}
        save()

    if "scale_split" in steps:
        # the same with one process per NF: what the AMF, the SMF, ... each hold per UE
        n = 1000 if args.quick else 5000
        log(f"scale (one process per NF): {n:,} UEs")
        try:
            results["scale_split"] = _run(scale_bench(n, rate=500.0, slot=3, layout="split", say=log))
        except Exception as exc:
            results["scale_split"] = {"error": f"{type(exc).__name__}: {exc}", "ues": n, "registered": 0}
        save()

    if "docs" in steps:
        from fivecore.benchkit.report import plot_latency, whole_network_md, write_section

        save()
        results = json.loads(prev.read_text())  # with whatever other runs into --out added

        runs = (results.get("attach") or {}).get("runs") or []
        if runs:
            aset = (results.get("attach_set") or {}).get("runs")
            plot_latency(runs, DOCS / "latency-vs-load.png",
                         f"fivecore attach (registration + PDU session), {results['machine']['cores']} cores, "
                         f"simulator on the same machine — {results['started']}",
                         other=("AMF Set of 2", aset) if aset else None)
        comps = results.get("components") or []
        upf = next((c for c in comps if c["name"] == "upf"), None)
        section = whole_network_md(results, component_md(comps) if comps else None, upf_gbit_1400(upf))
        write_section(DOCS / "benchmarks.md", section)
        log(f"wrote the make-bench section of {DOCS / 'benchmarks.md'}" + (" and latency-vs-load.png" if runs else ""))
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
