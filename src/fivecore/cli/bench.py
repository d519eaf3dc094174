"""``fivecore bench``: speed and scale of the whole network (issue 9).

    sudo fivecore bench attach --ues 2000 --rate 250 [--rate 500 ...] [--json]
    sudo fivecore bench scale --ues 100000 [--rate 300] [--json]
    sudo fivecore bench upf [--quick] [--json]

``attach`` starts the core as ``fivecore up`` does (on addresses of its own), provisions the
subscribers, and drives the simulator at each offered rate with open-loop arrivals; ``scale``
leaves N UEs registered and idle and reports memory per UE; ``upf`` runs ``bench/upf.py``.
The machinery is in :mod:`fivecore.benchkit`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from fivecore.errors import FivecoreError
from fivecore.runtime import install_fast_loop, settle_heap

bench_app = typer.Typer(help="Benchmarks of the whole network: attach rate, scale, UPF.", no_args_is_help=True)

JsonOpt = typer.Option(False, "--json", help="Print one JSON object for scripts.")
SlotOpt = typer.Option(0, "--slot", min=0, max=7, hidden=True,
                       help="Address/TUN/pool set 0..7, to run several benchmark networks at once.")
LogOpt = typer.Option("warning", "--log-level", help="The core's log level during the run (debug|info|warning|error).")


def _run(coro: Any, stop: asyncio.Event | None = None, say: Any = None) -> Any:
    """Run ``coro`` on uvloop; SIGINT/SIGTERM cancel it, so its clean-up (stopping the core,
    removing the TUN) runs — a Python-level handler alone is not acted on while uvloop waits.

    With ``stop``, the first signal only sets it (the benchmark winds down and reports what
    it reached); a second one cancels."""
    import signal

    install_fast_loop()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        sigs = (signal.SIGINT, signal.SIGTERM)

        def on_signal() -> None:
            if stop is not None and not stop.is_set():
                stop.set()
                if say is not None:
                    say("stopping: reporting what was reached (signal again to abort)")
            else:
                task.cancel()

        for sig in sigs:
            loop.add_signal_handler(sig, on_signal)
        settle_heap()  # the simulator's start-up objects (codec specifications) leave the GC's walk
        try:
            return await coro
        except asyncio.CancelledError:
            raise FivecoreError("benchmark interrupted; the network it started was stopped") from None
        finally:
            for sig in sigs:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


def _quiet_logs() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("fivecore").setLevel(logging.ERROR)


class _Progress:
    """A rich progress bar per offered rate (on stderr, so --json stdout stays clean)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=True,
                                 disable=not enabled)

    def say(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]…[/dim] {text}")

    def factory(self, rate: float, n: int) -> Any:
        task = self.progress.add_task(f"{rate:g}/s", total=n)
        return lambda done: self.progress.update(task, completed=done)

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)


def attach_cmd_impl(ues: int, rates: list[float], gnbs: int, arrivals: str, log_level: str,
                    profile_out: Path | None, quiet: bool, slot: int = 0, calls: bool = False,
                    amf_set: int = 1) -> dict[str, Any]:
    from fivecore.benchkit.attach import attach_bench, network_for

    if ues < 1:
        raise FivecoreError("--ues must be at least 1")
    if not rates or any(r <= 0 for r in rates):
        raise FivecoreError("--rate must be a positive number of attaches per second")
    if arrivals not in ("uniform", "poisson"):
        raise FivecoreError("--arrivals must be uniform or poisson")
    _quiet_logs()

    async def main(p: _Progress) -> dict[str, Any]:
        if profile_out is None and not calls:
            # the plain benchmark: a fresh core for every offered rate
            return await attach_bench(ues, rates, gnbs=gnbs, arrivals=arrivals, log_level=log_level, slot=slot,
                                      amf_set=amf_set, say=p.say, progress_factory=p.factory)
        # a profiled or counted run watches one core for all its rates (its first process only)
        net = network_for(slot, log_level, amf_set)
        calls_file = net.workdir / "calls.json"
        if calls:
            net.launcher = [sys.executable, "-m", "fivecore.benchkit.callcount"]
            net.env["FIVECORE_CALLCOUNT_OUT"] = str(calls_file)
            net.env["FIVECORE_CALLCOUNT_SYNC"] = "1"
        p.say("starting the core (fivecore up)")
        await asyncio.to_thread(net.start)
        prof = None
        try:
            if profile_out is not None:
                from fivecore.benchkit import profile

                if not profile.available():
                    raise FivecoreError("--profile needs py-spy (pip install '.[bench]')")
                # sample the control plane for the expected length of the whole sweep
                prof = profile.record(net.pids["core-cp"], sum(ues / r for r in rates) + 2, profile_out)
            report = await attach_bench(ues, rates, gnbs=max(gnbs, amf_set), arrivals=arrivals, net=net, say=p.say,
                                        progress_factory=p.factory)
        finally:
            if prof is not None:
                await asyncio.to_thread(prof.wait)
            net.keep = calls  # the counts are written when the core exits, into its directory
            await asyncio.to_thread(net.stop)
        if calls:
            from fivecore.benchkit.callcount import per_attach

            try:
                doc = json.loads(calls_file.read_text())
            except (OSError, ValueError) as exc:
                raise FivecoreError(f"the core wrote no call counts ({exc})") from None
            finally:
                import shutil

                shutil.rmtree(net.workdir, ignore_errors=True)
            report["calls"] = per_attach(doc, sum(r["attaches"] + r["failed"] for r in report["runs"]))
        if profile_out is not None and profile_out.exists():
            from fivecore.benchkit import profile

            report["profile"] = profile.summarize(profile_out.read_text())
        return report

    with _Progress(not quiet) as p:
        return _run(main(p))


def print_attach(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from fivecore.benchkit.report import cp_busy

    con = Console()
    t = Table(title=f"fivecore bench attach — {report['ues']} UEs per rate ({report['layout']})")
    for col in ("offered/s", "ok", "failed", "sustained/s", "p50 ms", "p90 ms", "p99 ms", "core CPU ms/attach",
                "sim CPU ms/attach", "CP busy", "RSS MB (CP/UPF/sim)"):
        t.add_column(col, justify="right")
    for r in report["runs"]:
        lat, cpu, rss = r["latency_ms"], r["cpu_ms_per_attach"], r["rss_mb"]
        t.add_row(f"{r['offered_rate']:g}", str(r["attaches"]), str(r["failed"]), f"{r['attaches_per_second']:.1f}",
                  *(("-" if lat[k] is None else f"{lat[k]:.1f}") for k in ("p50", "p90", "p99")),
                  "-" if r["core_cpu_ms_per_attach"] is None else f"{r['core_cpu_ms_per_attach']:.2f}",
                  "-" if cpu.get("simulator") is None else f"{cpu['simulator']:.2f}",
                  "-" if (busy := cp_busy(r)) is None else f"{100 * busy:.0f}%",
                  f"{rss.get('core-cp', 0):.0f}/{rss.get('upf', 0):.0f}/{rss.get('simulator', 0):.0f}")
    con.print(t)
    for r in report["runs"]:
        for err, n in r["errors"].items():
            con.print(f"[red]{r['offered_rate']:g}/s: {n} × {err}[/red]")
    if report.get("calls"):
        c = Table(title="calls per attach in the core")
        for col in ("call", "per attach", "CPU ms per attach"):
            c.add_column(col, justify="left" if col == "call" else "right")
        for row in report["calls"]:
            c.add_row(row["call"], f"{row['per_attach']:g}",
                      "" if row["cpu_ms_per_attach"] is None else f"{row['cpu_ms_per_attach']:.3f}")
        con.print(c)
    if report.get("profile"):
        con.print("where the control plane's CPU went (py-spy): " + ", ".join(
            f"{a} {p:.0f}%" for a, p in report["profile"]["areas"][:6]))


def scale_cmd_impl(ues: int, rate: float, gnbs: int, sessions: bool, layout: str, log_level: str,
                   quiet: bool, slot: int = 0, in_flight: int = 64) -> dict[str, Any]:
    from fivecore.benchkit.attach import scale_bench

    if ues < 1 or rate <= 0:
        raise FivecoreError("--ues and --rate must be positive")
    if layout not in ("split", "up"):
        raise FivecoreError("--layout must be split (one process per NF) or up (fivecore up)")
    _quiet_logs()
    stop = asyncio.Event()
    with _Progress(not quiet) as p:
        return _run(scale_bench(ues, rate=rate, gnbs=gnbs, sessions=sessions, layout=layout, log_level=log_level,
                                slot=slot, max_in_flight=in_flight, say=p.say, progress=p.factory(rate, ues),
                                stop=stop), stop=stop, say=p.say)


def print_scale(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    stopped = " — INTERRUPTED, partial" if r.get("interrupted") else ""
    t = Table(title=f"fivecore bench scale — {r['registered']:,} of {r['ues']:,} UEs registered, {r['idle']:,} idle "
                    f"({r['layout']} layout{', one PDU session each' if r['sessions'] else ''}){stopped}")
    for col in ("process", "RSS before MB", "RSS after MB", "KB per UE"):
        t.add_column(col, justify="right")
    for k, v in r["rss_mb"].items():
        t.add_row(k, f"{r['rss_mb_before'].get(k, 0):.0f}", f"{v:.0f}", str(r["kb_per_ue"].get(k)))
    con.print(t)
    con.print(f"core RSS total {r['core_rss_gb']:.2f} GB; {r['attaches_per_second']:.0f} attaches/s; "
              f"core CPU {r['core_cpu_ms_per_attach']} ms per attach")
    for g in r.get("n2", []):
        if g["associations_lost"] or g["ngap_tx_dropped"] or not g["ready"]:
            con.print(f"gNB {g['id']}: N2 lost {g['associations_lost']}x, reconnected {g['reconnects']}x, "
                      f"{g['ngap_tx_dropped']} NGAP sends dropped, ready={g['ready']}")
    if r.get("errors"):
        con.print("failures: " + "; ".join(f"{n}× {e}" for e, n in r["errors"].items()))


def repo_root() -> Path:
    """The checkout this package runs from (bench/ lives beside src/)."""
    return Path(__file__).resolve().parents[3]


def upf_cmd_impl(args: list[str], as_json: bool) -> int:
    script = repo_root() / "bench" / "upf.py"
    if not script.exists():
        raise FivecoreError(f"{script} not found: `fivecore bench upf` runs from a source checkout")
    argv = [sys.executable, str(script), *args] + (["--json"] if as_json else [])
    return subprocess.run(argv).returncode


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")

    @bench_app.command("attach")
    def attach_cmd(
        ues: int = typer.Option(1000, "--ues", help="Attaches per offered rate (each by its own subscriber)."),
        rate: list[float] = typer.Option([250.0], "--rate", help="Offered attaches per second; repeat for a sweep."),
        gnbs: int = typer.Option(1, "--gnbs", min=1, help="Simulated gNBs (UEs spread round-robin)."),
        arrivals: str = typer.Option("uniform", "--arrivals", help="uniform (1/rate apart) or poisson."),
        amf_set: int = typer.Option(1, "--amf-set", min=1, max=8, help="Control-plane processes: members of "
                                    "one AMF Set, each with its own AMF, SMF, AUSF, UDM, UDR, PCF and NSSF "
                                    "(one NRF, SQLite file and UPF); gNBs spread over them."),
        log_level: str = LogOpt,
        profile: Path = typer.Option(None, "--profile", help="Sample the control plane with py-spy into FILE."),
        calls: bool = typer.Option(False, "--calls", help="Count SBI requests and store calls per attach "
                                   "(wrappers in the core: a diagnostic run, not for timing)."),
        as_json: bool = JsonOpt,
        slot: int = SlotOpt,
    ) -> None:
        """Attach = registration (5G-AKA, security mode) + one PDU session; rate, latency, CPU, RSS."""
        report = attach_cmd_impl(ues, list(rate), gnbs, arrivals, log_level, profile, as_json, slot, calls,
                                 amf_set)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        else:
            print_attach(report)

    @bench_app.command("scale")
    def scale_cmd(
        ues: int = typer.Option(100_000, "--ues", help="UEs to register and leave idle."),
        rate: float = typer.Option(500.0, "--rate", help="Offered attaches per second (capped by --in-flight)."),
        gnbs: int = typer.Option(4, "--gnbs", min=1, help="Simulated gNBs."),
        sessions: bool = typer.Option(True, "--sessions/--no-sessions", help="One PDU session per UE."),
        layout: str = typer.Option("split", "--layout",
                                   help="split: one process per NF (memory per NF); up: fivecore up's layout."),
        in_flight: int = typer.Option(64, "--in-flight", min=1, help="At most this many attaches under way."),
        log_level: str = LogOpt,
        as_json: bool = JsonOpt,
        slot: int = SlotOpt,
    ) -> None:
        """N UEs registered and idle: memory per UE in the AMF, SMF, UPF and the simulator."""
        r = scale_cmd_impl(ues, rate, gnbs, sessions, layout, log_level, as_json, slot, in_flight)
        if as_json:
            typer.echo(json.dumps(r, indent=2))
        else:
            print_scale(r)

    @bench_app.command("upf", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def upf_cmd(
        ctx: typer.Context,
        quick: bool = typer.Option(False, "--quick", help="1 run × 3 s, 2,000 PFCP sessions."),
        as_json: bool = JsonOpt,
    ) -> None:
        """UPF forwarding at 64/512/1400 B both ways on one core, and PFCP rate (runs bench/upf.py)."""
        rc = upf_cmd_impl((["--quick"] if quick else []) + list(ctx.args), as_json)
        raise typer.Exit(rc)
