"""What the benchmarks print and write: tables, the docs/benchmarks.md section, the plot."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

START = "<!-- make-bench:start -->"
END = "<!-- make-bench:end -->"

#: the issue-9 targets on this 2-core machine, simulator on the same machine
TARGETS = {
    "attaches_per_second": 500.0,
    "p99_ms_at_250": 50.0,
    "core_cpu_ms_per_attach": 2.0,
    "scale_ues": 100_000,
    "scale_core_rss_gb": 2.0,
    "upf_gbit_s_1400": 1.0,
}


def _c(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


def _f(v: Any, fmt: str = "{:.1f}") -> str:
    return "–" if v is None else fmt.format(v)


def attach_table_md(runs: Sequence[dict[str, Any]]) -> str:
    """One row per offered rate."""
    lines = [
        "| offered /s | attaches | failed | sustained /s | p50 ms | p90 ms | p99 ms | core CPU ms/attach "
        "| CP / UPF / sim CPU ms | CP-bound /s | CP busy | RSS MB CP / UPF / sim |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in runs:
        lat = r["latency_ms"]
        cpu = {**r.get("cpu_ms_per_attach", {}), "core-cp": cp_cpu(r)}
        rss = {**r.get("rss_mb", {}), "core-cp": cp_sum(r.get("rss_mb", {}))}
        lines.append(
            f"| {r['offered_rate']:g} | {r['attaches']} | {r['failed']} | {_f(r['attaches_per_second'])} "
            f"| {_f(lat.get('p50'))} | {_f(lat.get('p90'))} | {_f(lat.get('p99'))} "
            f"| {_f(r.get('core_cpu_ms_per_attach'), '{:.2f}')} "
            f"| {_f(cpu.get('core-cp'))} / {_f(cpu.get('upf'), '{:.2f}')} / {_f(cpu.get('simulator'))} "
            f"| {_f(cp_bound(r), '{:.0f}')} | {_pct(cp_busy(r))} "
            f"| {_f(rss.get('core-cp'), '{:.0f}')} / {_f(rss.get('upf'), '{:.0f}')} / "
            f"{_f(rss.get('simulator'), '{:.0f}')} |")
    return "\n".join(lines)


def cp_busy(r: dict[str, Any]) -> float | None:
    """The busiest control-plane process's CPU time over the run's wall time (1.0: no idle time)."""
    per = [v for k, v in (r.get("cpu_utilisation") or {}).items() if k.startswith("core-cp") and v is not None]
    return max(per) if per else None


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


def cp_sum(per_process: dict[str, float]) -> float | None:
    """The control plane's share: ``core-cp`` plus any further AMF Set members (``core-cp2``, ...)."""
    vals = [v for k, v in per_process.items() if k.startswith("core-cp") and v is not None]
    return sum(vals) if vals else None


def cp_cpu(r: dict[str, Any]) -> float | None:
    """Control-plane CPU ms per attach, all control-plane processes together."""
    return cp_sum(r.get("cpu_ms_per_attach") or {})


def cp_bound(r: dict[str, Any]) -> float | None:
    """Attaches/s the control plane could carry if each of its processes had a whole core, at the
    CPU it spent per attach in this run (a process is one GIL): the busiest process sets it."""
    per = [v for k, v in (r.get("cpu_ms_per_attach") or {}).items() if k.startswith("core-cp") and v]
    return 1000.0 / max(per) if per else None


def best_sustained(runs: Sequence[dict[str, Any]]) -> float | None:
    """The highest rate sustained without failures (what "sustained attaches/s" means)."""
    ok = [r["attaches_per_second"] for r in runs if r["attaches"] and not r["failed"]]
    return max(ok) if ok else None


def p99_at(runs: Sequence[dict[str, Any]], rate: float) -> float | None:
    for r in runs:
        if abs(r["offered_rate"] - rate) < 1e-9:
            return r["latency_ms"].get("p99")
    return None


def targets_md(attach: dict[str, Any] | None, scale: dict[str, Any] | None,
               upf_gbit: float | None, attach_set: dict[str, Any] | None = None) -> str:
    """Target, measured, verdict (``attach_set``: the same sweep with the AMF Set layout)."""
    rows = []

    def verdict(v: float | None, limit: float, higher_is_better: bool) -> str:
        if v is None:
            return "not measured"
        return "**holds**" if (v >= limit if higher_is_better else v <= limit) else "**missed**"

    runs = (attach or {}).get("runs") or []
    best = best_sustained(runs)
    set_runs = (attach_set or {}).get("runs") or []
    if set_runs:
        members = attach_set.get("members", 2) if attach_set else 2
        best_set = best_sustained(set_runs)
        both = max((v for v in (best, best_set) if v is not None), default=None)
        rows.append(("≥ 500 attaches/s sustained",
                     f"{_f(best_set)} /s with an AMF Set of {members} control-plane processes; {_f(best)} /s "
                     "with one (highest without failures)", verdict(both, 500, True)))
    else:
        rows.append(("≥ 500 attaches/s sustained", _f(best) + " /s (highest without failures)",
                     verdict(best, 500, True)))
    p99 = p99_at(runs, 250)
    r250 = next((r for r in runs if abs(r["offered_rate"] - 250) < 1e-9), None)
    if r250 is not None and r250["failed"]:
        rows.append(("p99 ≤ 50 ms at 250 attaches/s",
                     f"{r250['failed']:,} of {r250['attaches'] + r250['failed']:,} attaches failed"
                     + (f"; p99 of the rest {p99:.0f} ms" if p99 is not None else ""), "**missed**"))
    else:
        rows.append(("p99 ≤ 50 ms at 250 attaches/s", _f(p99) + " ms" if p99 is not None else "–",
                     verdict(p99, 50, False)))
    ok = [r for r in [*runs, *set_runs] if r.get("core_cpu_ms_per_attach") and not r["failed"]]
    best = min(ok, key=lambda r: r["core_cpu_ms_per_attach"]) if ok else None
    cpu = best["core_cpu_ms_per_attach"] if best else None
    # CPU per attach falls as the rate rises (fuller batches): say what it is at the 500/s the
    # rate target names, too, and do not call the target met on the best rate alone
    at500 = next((r["core_cpu_ms_per_attach"] for r in runs if abs(r["offered_rate"] - 500) < 1e-9
                  and r.get("core_cpu_ms_per_attach") and not r["failed"]), None)
    text = _f(cpu, "{:.2f}") + " ms (lowest over the sweep"
    text += f", at {best['offered_rate']:g}/s offered)" if best else ")"
    v = verdict(cpu, 2.0, False)
    if at500 is not None and best is not None and best["offered_rate"] != 500:
        text += f"; {at500:.2f} ms at 500/s"
        if cpu is not None and cpu <= 2.0 < at500:
            v = f"**holds at {best['offered_rate']:g}/s, not at 500/s**"
    rows.append(("≤ 2 ms core CPU per attach", text, v))
    if scale:
        gb = scale.get("core_rss_gb")
        extra = scale.get("extrapolated_core_rss_gb_at_100k")
        rows.append((f"{TARGETS['scale_ues']:,} UEs in ≤ 2 GB core RSS",
                     f"{scale.get('registered', 0):,} UEs, {_f(gb, '{:.2f}')} GB"
                     + (f" (linear extrapolation to 100,000: {extra:.2f} GB)" if extra else ""),
                     verdict(gb, 2.0, False) if scale.get("registered", 0) >= TARGETS["scale_ues"]
                     else f"not reached ({scale.get('registered', 0):,} of {scale.get('ues', 0):,} UEs)"))
    else:
        rows.append(("100,000 UEs in ≤ 2 GB core RSS", "–", "not measured"))
    if upf_gbit:
        rows.append(("UPF ≥ 1 Gbit/s at 1400 B, one core", f"{upf_gbit:.2f} Gbit/s (the lower of UL and DL)",
                     verdict(upf_gbit, 1.0, True)))
    else:
        rows.append(("UPF ≥ 1 Gbit/s at 1400 B, one core",
                     "– (`bench/upf.py` did not complete in this run; see its own section)", "not measured here"))
    out = ["| target | measured | |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)


AMF_SET_METHOD = (
    "`fivecore up` with `up.amf_set_size: 2`: the control plane as two processes, members of one AMF Set "
    "(TS 23.501 §5.21.2), each with its own AMF (AMF Pointer 0 and 1), SMF (half of the UE pool each), "
    "AUSF, UDM, UDR, PCF and NSSF calling each other in-process; one NRF, one SQLite subscriber file "
    "and one UPF. The simulator's gNBs connect round-robin to the two AMFs (two gNBs, so half the UEs "
    "each). *CP* columns add both processes; *CP-bound* is the rate at which the busier one would fill a "
    "core. With the simulator on the same two cores, the machine itself is the limit: at saturation "
    "every process competes for the same two cores.")


def replace_section(doc: str, section: str) -> str:
    """``doc`` with the text between the make-bench markers replaced (appended at the end if
    the markers are absent); everything outside the markers is left byte for byte."""
    block = f"{START}\n{section.rstrip()}\n{END}"
    pat = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if pat.search(doc):
        return pat.sub(lambda _m: block, doc, count=1)
    sep = "" if doc.endswith("\n\n") or not doc else ("\n" if doc.endswith("\n") else "\n\n")
    return f"{doc}{sep}{block}\n"


def write_section(path: Path, section: str) -> None:
    """Rewrite only our section of ``path`` (re-read just before writing: others edit the file)."""
    doc = path.read_text() if path.exists() else ""
    path.write_text(replace_section(doc, section))


def plot_latency(runs: Sequence[dict[str, Any]], out: Path, title: str = "",
                 other: tuple[str, Sequence[dict[str, Any]]] | None = None) -> Path:
    """Latency percentiles and sustained rate against offered load, as a PNG; ``other`` is a
    second sweep (label, runs), drawn in its own colour (its p99 and throughput)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rs = sorted(runs, key=lambda r: r["offered_rate"])
    x = [r["offered_rate"] for r in rs]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for key, style in (("p50", "o-"), ("p90", "s--"), ("p99", "^-")):
        ys = [r["latency_ms"].get(key) for r in rs]
        pts = [(a, b) for a, b in zip(x, ys, strict=True) if b is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=key)
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.annotate("p99 target 50 ms", (max(x) if x else 0, 50), textcoords="offset points", xytext=(-2, -11),
                ha="right", fontsize=8, color="grey")
    ax.set_yscale("log")
    ax.set_xlabel("offered attaches per second")
    ax.set_ylabel("attach latency, ms (log)")
    ax.set_title("latency against offered load")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax2.plot(x, [r["attaches_per_second"] for r in rs], "o-", label="sustained")
    if other is not None and other[1]:
        label, ors = other[0], sorted(other[1], key=lambda r: r["offered_rate"])
        ox = [r["offered_rate"] for r in ors]
        pts = [(r["offered_rate"], r["latency_ms"].get("p99")) for r in ors if r["latency_ms"].get("p99")]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "D-", color="tab:purple", label=f"p99, {label}")
        ax2.plot(ox, [r["attaches_per_second"] for r in ors], "D-", color="tab:purple", label=f"sustained, {label}")
        x = sorted({*x, *ox})
        ax.legend()
    if x:
        ax2.plot([0, max(x)], [0, max(x)], color="grey", lw=0.8, ls=":", label="= offered")
    ax2.set_xlabel("offered attaches per second")
    ax2.set_ylabel("completed attaches per second")
    ax2.set_title("throughput")
    ax2.grid(True, alpha=0.3)
    ax2.legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def calls_md(rows: Sequence[dict[str, Any]]) -> str:
    out = ["| call | per attach | CPU ms per attach |", "|---|---:|---:|"]
    for r in rows:
        c = r.get("cpu_ms_per_attach")
        out.append(f"| `{r['call']}` | {r['per_attach']:g} | {'' if c is None else f'{c:.2f}'} |")
    return "\n".join(out)


def profile_md(summary: dict[str, Any], top: int = 12) -> str:
    """py-spy summary: areas and the hottest functions (self time)."""
    out = [f"{summary.get('samples', 0)} samples of the control-plane process.", "",
           "| area (innermost frame) | share |", "|---|---:|"]
    out += [f"| {a} | {p:.1f} % |" for a, p in summary.get("areas", [])]
    out += ["", "| function (self time) | share |", "|---|---:|"]
    out += [f"| `{f}` | {p:.1f} % |" for f, p in summary.get("self", [])[:top]]
    out += ["", "| function (inclusive, below the event loop) | share |", "|---|---:|"]
    out += [f"| `{f}` | {p:.1f} % |" for f, p in summary.get("inclusive", [])[:top]]
    return "\n".join(out)


METHOD = """\
**Method.** `fivecore bench attach` starts the core exactly as `fivecore up` runs it (control-plane
NFs in one process calling each other through the in-process SBI binding, the UPF in its own
process; addresses, N6 TUN and UE pool of its own, logging at `warning`) afresh for every
offered rate, provisions the subscribers through the subscriber store, and drives the simulator —
in the benchmark's own process, on the same two cores — with **open-loop** arrivals spaced
1/rate apart. An *attach* is a full initial registration (SUCI Profile A, 5G-AKA through
AUSF/UDM/UDR, NAS Security Mode, Initial Context Setup, Registration Accept/Complete) plus one
PDU session (5GSM through the SMF, PCF policy, PFCP session in the UPF, PDU Session Resource
Setup at the gNB, which builds a real GTP-U tunnel endpoint; the UE gets no kernel TUN). Every
message crosses the real wire (NGAP over SCTP, PFCP over UDP). Latency runs from the *scheduled*
arrival to the PDU Session Establishment Accept, so queueing in an overloaded core is counted
(no coordinated omission). *Sustained* is completed attaches over the time from the first
arrival to the last completion. CPU is each process's own user+system time (`psutil`) over the
run divided by the attaches; *core* is the control-plane process plus the UPF, the simulator's
CPU is listed apart. *CP-bound* is 1000 / (control-plane CPU ms per attach): the rate that one
process could carry with a whole core to itself, a ceiling that does not depend on what else the
shared machine was doing. *CP busy* is the busiest control-plane process's CPU time over the
run's wall time: near 100 % the process never idled, its CPU per attach is then about
1000 / rate ms and *CP-bound* equals the rate it carried (it used the core it had; a higher rate
is served in fuller batches at less CPU per attach). RSS is at the end of each rate's run."""


def overload_md(runs: Sequence[dict[str, Any]]) -> str:
    """What happened above capacity, and how CPU per attach moved with load (this run's numbers)."""
    over = [r for r in runs if r["failed"]]
    ok = [r for r in runs if not r["failed"] and r.get("core_cpu_ms_per_attach")]
    from fivecore.config import AmfConfig  # the defaults the benchmark's core runs with

    fields = AmfConfig.model_fields
    parts: list[str] = []
    if over:
        parts.append(f"**Above capacity.** The AMF sends NGAP Overload Start when "
                     f"{fields['overload_threshold'].default} SBI calls wait (`amf.overload_threshold`) or its "
                     f"event loop runs {fields['overload_loop_lag_ms'].default:g} ms late "
                     "(`amf.overload_loop_lag_ms`), and Overload Stop once it has caught up; the benchmark's gNB "
                     "then refuses new UEs at once, as a real gNB refuses RRC connections, and those attaches "
                     "count as failed.")
        r = max(over, key=lambda r: r["offered_rate"])
        parts.append(f"Offered {r['offered_rate']:g}/s, the core carried {r['attaches_per_second']:g}/s and "
                     f"refused {r['failed']:,} of {r['attaches'] + r['failed']:,}: a plateau, where the first "
                     "session's core (no such admission control, a 2,000-call threshold) collapsed to about "
                     "1 attach/s on a busy machine.")
    if len(ok) >= 2:
        lo, hi = min(ok, key=lambda r: r["offered_rate"]), max(ok, key=lambda r: r["offered_rate"])
        parts.append(f"CPU per attach falls as the load rises ({lo['core_cpu_ms_per_attach']:.1f} ms at "
                     f"{lo['offered_rate']:g}/s, {hi['core_cpu_ms_per_attach']:.1f} ms at {hi['offered_rate']:g}/s): "
                     "at low rates each message pays its own system calls and SCTP SACK and runs from colder "
                     "caches; under load SCTP bundles chunks and one turn of the event loop serves many.")
    busy = [r for r in ok if (cp_busy(r) or 0) >= 0.95]
    if busy:
        at = ", ".join(f"{r['offered_rate']:g}/s ({_pct(cp_busy(r))})" for r in busy)
        parts.append(f"The control-plane process was busy almost the whole run at {at}. Its CPU per attach "
                     "there is its core's time divided by the attaches (about 1000 / rate ms): it shows that "
                     "the process used the core it had, not how much less the code would need. What waits "
                     "meanwhile is served in fuller batches, so the cost per attach keeps falling up to the "
                     "highest rate one process sustains.")
    return " ".join(parts)


def scale_md(s: dict[str, Any]) -> str:
    if s.get("error"):
        return f"The scale run failed: `{s['error']}`."
    layout = ("every NF in its own process (`--layout split`), so memory can be told apart per NF"
              if s.get("layout") == "split" else
              "`fivecore up`'s layout (`--layout up`): *core-cp* is the control-plane process holding AMF, "
              "SMF, AUSF, UDM, UDR, PCF, NSSF and NRF together")
    lines = [
        f"{_c(s.get('registered'))} of {_c(s.get('ues'))} UEs registered "
        f"({'one PDU session each, ' if s.get('sessions') else ''}then CM-IDLE via UE Context Release; "
        f"{_c(s.get('idle'))} idle at the end), offered at {s.get('offered_rate', 0):g}/s, sustained "
        f"{_f(s.get('attaches_per_second'))}/s with at most {s.get('max_in_flight')} in flight; {layout}. "
        f"KB per UE = RSS growth from before the first UE to all idle, divided by the UEs.", "",
        "| process | RSS before MB | RSS after MB | KB per UE |", "|---|---:|---:|---:|"]
    for k, v in (s.get("rss_mb") or {}).items():
        lines.append(f"| {k} | {s['rss_mb_before'].get(k, 0):.0f} | {v:.0f} | {s['kb_per_ue'].get(k)} |")
    lines += ["", f"Total RSS of the core processes: **{s.get('core_rss_gb', 0):.2f} GB** "
              f"(simulator excluded)" + (f"; core CPU {s['core_cpu_ms_per_attach']:.1f} ms per attach in this layout."
                                          if s.get("core_cpu_ms_per_attach") else ".")]
    if s.get("note"):
        lines += ["", s["note"]]
    return "\n".join(lines)


def whole_network_md(results: dict[str, Any], components_md: str | None, upf_gbit: float | None) -> str:
    """The whole ``make bench`` section of docs/benchmarks.md."""
    m = results.get("machine", {})
    attach = results.get("attach")
    scale = results.get("scale")
    prof = results.get("profile") or {}
    out = ["## Whole network (`make bench`)", "",
           f"Regenerated by `make bench` (`bench/run_all.py`{', --quick' if results.get('quick') else ''}) on "
           f"{results.get('started', '?')}. Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
           f"{m.get('memory_gb', '?')} GB RAM, Python {m.get('python', '?')}, Linux {m.get('kernel', '?')}; "
           f"1-minute load average {m.get('load_avg_1m', '?')} at the start (a shared machine: other "
           "work competes for the two cores, so treat single numbers as ±20 %).", "",
           "### Targets (issue 9)", "", targets_md(attach, scale, upf_gbit, results.get("attach_set")), ""]
    out += ["### Attach rate and latency — `fivecore bench attach`", "", METHOD, ""]
    if attach and attach.get("runs"):
        out += [attach_table_md(attach["runs"]), "", "![latency against offered load](latency-vs-load.png)", ""]
        text = overload_md(attach["runs"])
        if text:
            out += [text, ""]
    else:
        out += ["Not run.", ""]
    aset = results.get("attach_set")
    if aset and aset.get("runs"):
        out += [f"#### The same with an AMF Set of {aset.get('members', 2)} — `fivecore bench attach --amf-set "
                f"{aset.get('members', 2)}`", "", AMF_SET_METHOD, "", attach_table_md(aset["runs"]), ""]
    out += ["### Where the control plane's CPU goes — py-spy", ""]
    if prof.get("summary"):
        r = prof.get("run", {})
        out += [f"A sustained run of {prof.get('ues')} attaches at {prof.get('rate'):g}/s "
                f"({r.get('attaches_per_second')}/s sustained, {r.get('core_cpu_ms_per_attach')} ms core CPU per "
                "attach) with py-spy sampling the control-plane process from outside (`py-spy record --format "
                "raw`, 200 Hz, no instrumentation inside the NFs). *Area* is the innermost frame of a sample "
                "that belongs to a known layer; *self* is time in the function itself (C calls such as "
                "`sendto` included); *inclusive* counts a function with everything it calls.", "",
                profile_md(prof["summary"]), ""]
    elif prof.get("error"):
        out += [f"The profiled run failed: `{prof['error']}`.", ""]
    else:
        out += ["Not run.", ""]
    calls = results.get("calls") or {}
    if calls.get("rows"):
        out += ["Calls per attach in the control plane (`fivecore bench attach --calls`: counting wrappers "
                "around `SbiClient.call` and the `SubscriberStore` methods, CPU of the calling thread; "
                "AMF → SMF and SMF → UPF go by other paths and are not listed):", "",
                calls_md(calls["rows"]), ""]
    if prof.get("summary"):
        cp = ((prof.get("run") or {}).get("cpu_ms_per_attach") or {}).get("core-cp")
        out += [profile_reading(prof["summary"], calls.get("rows") or [], cp), ""]
    out += ["### 100,000 UEs — `fivecore bench scale`", ""]
    out += [scale_md(scale) if scale else "Not run.", ""]
    split = results.get("scale_split")
    if split:
        out += ["The same with one process per NF (fewer UEs; the per-NF split of the memory):", "",
                scale_md(split), ""]
    out += ["### Component benchmarks (`bench/*.py`)", "",
            "Run by `make bench` one after another (their numbers and targets are in their own sections of this page).",
            ""]
    out += [components_md or "Not run.", ""]
    return "\n".join(out)


def profile_reading(summary: dict[str, Any], calls: Sequence[dict[str, Any]], cp_ms: float | None) -> str:
    """What the profile and the call counts say, in words (numbers from this run)."""
    areas = dict(summary.get("areas") or [])
    store = areas.get("subscriber store (SQLAlchemy/SQLite)")
    codec = (areas.get("pycrate (NGAP/NAS ASN.1 codecs)") or 0) + (areas.get("wire codecs (ours)") or 0)
    sbi = (areas.get("HTTP/2 SBI transport") or 0) + (areas.get("pydantic / JSON") or 0)
    n_sbi = sum(r["per_attach"] for r in calls if r["call"].startswith("SBI"))
    gets = next((r for r in calls if r["call"] == "store get"), None)
    puts = next((r for r in calls if r["call"] == "store put_context"), None)
    store_ms = sum(r["cpu_ms_per_attach"] or 0 for r in calls if r["call"].startswith("store"))
    parts = ["**Reading it.** There is no single hot spot; the cost is the number of steps in an attach."]
    if calls:
        parts.append(
            f"Per attach the control plane serves about {n_sbi:.0f} SBI requests through the in-process binding "
            "(AUSF → UDM → UDR for the vector, its confirmation and the auth event, the UECM registrations of "
            "AMF and SMF, SDM am-data and sm-data, the PCF policy); request objects and multipart parts go "
            "through unserialised, but each is still routed and read as the HTTP/2 binding would" + (
                f"; at the UDR the subscriber row is read {gets['per_attach']:g} times and "
                f"{puts['per_attach']:g} context documents are written with a commit each, "
                f"{store_ms:.1f} ms of CPU per attach in the store" if gets and puts else "") + ".")
    if store is not None:
        parts.append(f"In the profile the subscriber store is {store:.0f} % of the control plane's samples, "
                     f"NGAP/NAS/PFCP coding {codec:.0f} %, SBI routing and JSON/pydantic {sbi:.0f} %, the rest "
                     "NF logic, 5G-AKA/NAS crypto, SCTP and the event loop. py-spy counts wall-clock samples of "
                     "a running or runnable thread, so a `sendto` that wakes the receiving process (and is "
                     "preempted by it on two busy cores) looks heavier than the CPU it costs; the `--calls` "
                     "rows are CPU time.")
    if cp_ms:
        parts.append(f"At this profile's rate the control plane spent {cp_ms:.1f} ms per attach; under load "
                     "it spends less (the *CP-bound* column above is its ceiling at each rate), and 500/s "
                     "needs ≤ 2 ms in that one process with its one GIL.")
    parts.append(
        "Done since: encoder-verified octet templates for the per-UE messages of AMF, SMF and "
        "simulator (PFCP session requests, 5GSM accept, Registration Accept, N2 transfers), "
        "in-process SBI calls that run to completion without a task, a store read cache that "
        "stays coherent with other processes (SQLite `data_version`), rarer full garbage "
        "collections, and the AMF Set layout (`up.amf_set_size: 2`), which puts the second core "
        "to work. Why the cost moves with load: the same call costs more CPU when the process "
        "does little of it back to back. At 350/s the control plane sleeps only about 200 times a "
        "second, yet one SUCI de-concealment (an X25519 inside OpenSSL, the same work every time) "
        "took about 40 % more CPU than at 600/s, each NGAP and NAS decode 25–30 % more "
        "(`--calls`, session 10): most likely, in small mixed batches the code runs from colder "
        "caches. "
        "Compiling the NF modules with Cython made single pieces 10–45 % faster and a whole "
        "attach no cheaper. After that, the 17 in-process SBI requests and the 4 commits of "
        "every attach.")
    return " ".join(parts)
