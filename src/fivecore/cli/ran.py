"""``fivecore ran``: the RAN simulator and its control commands (like UERANSIM's nr-cli).

    fivecore ran --gnbs 2 --ues 1000 --config ran.yaml      # start, register everyone, keep running
    fivecore ran ue list                                    # ask the running simulator
    fivecore ran ue deregister imsi-001010000000001
    fivecore ran gnb status
    fivecore ran --amf-set --ues 8                          # each gNB connects to every AMF of `fivecore up`'s AMF Set
    sudo fivecore ran --ues 2 --config ue.yaml --sessions   # then each UE's `sessions:` (IPv4 / IPv6 / IPv4v6)

With ``--sessions`` each registered UE asks for the PDU sessions its UE file lists, with their
PDU session types (``type: IPv4 | IPv6 | IPv4v6``, :mod:`fivecore.ran.config`); each session
gets a TUN in the UE's own network namespace (``fcran<index>``), as UERANSIM's ``uesimtun``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fivecore.errors import FivecoreError
from fivecore.runtime import install_fast_loop, settle_heap

DEFAULT_CONTROL = "/tmp/fivecore-ran.sock"

ran_app = typer.Typer(
    help="RAN simulator: gNBs and UEs over real NGAP/SCTP. Without a sub-command: start it.",
    invoke_without_command=True,
)
ue_app = typer.Typer(help="Ask a running simulator about its UEs.", no_args_is_help=True)
gnb_app = typer.Typer(help="Ask a running simulator about its gNBs.", no_args_is_help=True)
ran_app.add_typer(ue_app, name="ue")
ran_app.add_typer(gnb_app, name="gnb")


def _ask(control: str, req: dict[str, Any]) -> dict[str, Any]:
    from fivecore.ran.app import control_request

    resp = asyncio.run(control_request(control, req))
    if not resp.get("ok"):
        raise FivecoreError(str(resp.get("error", "command failed")))
    return resp


ControlOpt = typer.Option(DEFAULT_CONTROL, "--control", help="Control socket of the running simulator.")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


@ran_app.callback()
def ran_main(
    ctx: typer.Context,
    gnbs: int = typer.Option(1, "--gnbs", min=1, help="Number of gNBs."),
    ues: int = typer.Option(1, "--ues", min=0, help="Number of UEs (IMSIs count up from the UE file's supi)."),
    config: Path = typer.Option(None, "--config", "-c", help="Simulator YAML or a UERANSIM-style UE YAML."),
    control: str = ControlOpt,
    concurrency: int = typer.Option(200, "--concurrency", min=1, help="Registrations in flight at once."),
    rate: float = typer.Option(0.0, "--rate", min=0.0, help="Registrations started per second (0: as fast as possible)."),
    no_register: bool = typer.Option(False, "--no-register", help="Bring gNBs up, register nobody."),
    exit_after: bool = typer.Option(False, "--exit", help="Deregister everyone and exit instead of staying up."),
    log_level: str = typer.Option("warning", "--log-level"),
    amf_set: bool = typer.Option(False, "--amf-set", help="Connect each gNB to every AMF of the running "
                                 "`fivecore up`'s AMF Set (its state file), instead of the configured AMF(s)."),
    up_config: Path = typer.Option(None, "--up-config", help="The running `fivecore up`'s configuration "
                                   "(for --amf-set; default: built-in defaults, as `fivecore status`)."),
    sessions: bool = typer.Option(False, "--sessions", help="After registering, establish the PDU sessions of each "
                                  "UE file's `sessions:` list (type IPv4, IPv6 or IPv4v6); needs root."),
    n3_address: str = typer.Option(None, "--n3-address", help="N3 (GTP-U) address of the first gNB, the next "
                                   "gNBs count up from it (with --sessions; default the gNB's localAddress or "
                                   "127.0.0.1)."),
    as_json: bool = JsonOpt,
) -> None:
    """Start gNBs, register the UEs, then serve control commands until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from fivecore.ran.app import RanSim
    from fivecore.ran.config import load_ran_config

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    cfg = load_ran_config(config)
    if amf_set:
        cfg.gnb.amfs = amfs_of_running_up(up_config)
        cfg.gnb.amf_host, cfg.gnb.amf_port = cfg.gnb.amfs[0]
    n3_first = None
    if sessions:
        n3_first = n3_addresses(n3_address or cfg.gnb.local_host or "127.0.0.1", gnbs)[0]
    install_fast_loop()
    asyncio.run(_run(RanSim(cfg, gnbs, ues), control, concurrency, rate or None, no_register, exit_after, as_json,
                     n3_first))


def n3_addresses(first: str, n: int) -> list[str]:
    """The N3 addresses of ``n`` gNBs counting up from ``first`` (each gNB binds GTP-U port 2152)."""
    import ipaddress

    try:
        base = ipaddress.ip_address(first)
    except ValueError:
        raise FivecoreError(f"--n3-address: {first!r} is not an IP address") from None
    try:
        return [str(base + i) for i in range(n)]
    except ipaddress.AddressValueError:
        raise FivecoreError(f"--n3-address: no room for {n} gNB addresses after {first}") from None


async def _start_sessions(sim: Any, n3_first: str) -> Any:
    """A user plane for every gNB (N3 addresses from ``n3_first``) with every UE enabled."""
    import os

    from fivecore.ran.userplane import UserPlane

    if os.geteuid() != 0:
        raise FivecoreError("--sessions needs root: each session is a TUN in a network namespace")
    up = UserPlane(use_namespace=True, ns_prefix="fcran")
    try:
        for node, addr in zip(sim.nodes, n3_addresses(n3_first, len(sim.nodes)), strict=True):
            await up.add_gnb(node, addr)
    except BaseException:
        await up.close()
        raise
    # interfaces are named after the UE index and a same-named one is replaced: a per-process
    # offset keeps another simulator on the host (a demo, a test) from losing its interfaces
    base = 1000 * (os.getpid() % 90 + 10)
    for i, ru in enumerate(sim.ues):
        up.enable(ru, base + i)
    return up


def amfs_from_state(state: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """Every AMF Set member's NGAP endpoint (host, port) from ``fivecore up``'s state file
    (section ``amf_set``, member 0 -- ``up`` itself -- first), as ``fivecore status`` reads it."""
    out: list[tuple[str, int]] = []
    for e in sorted(state.get("amf_set") or [], key=lambda e: int(e.get("member", 0))):
        ngap = str(e.get("ngap") or "")
        host, _, port = ngap.rpartition(":")
        if not host or not port.isdigit():
            raise FivecoreError(f"the network's state names no NGAP address for AMF Set member {e.get('member')}")
        out.append((host, int(port)))
    if not out:
        raise FivecoreError("the running network's state lists no AMF Set members")
    return tuple(out)


def amfs_of_running_up(up_config: Path | None) -> tuple[tuple[str, int], ...]:
    """:func:`amfs_from_state` of the network ``fivecore up`` (with ``up_config``) runs."""
    from fivecore.config import load_config
    from fivecore.netup.network import read_state

    return amfs_from_state(read_state(load_config(up_config)))


async def _run(sim: Any, control: str, concurrency: int, rate: float | None, no_register: bool,
               exit_after: bool, as_json: bool, n3_first: str | None = None) -> None:
    console = Console(stderr=True)
    try:
        await sim.start()
    except (FivecoreError, OSError) as exc:
        await sim.stop()
        raise FivecoreError(f"gNB start failed: {exc}") from None
    up = None
    if n3_first is not None:
        try:
            up = await _start_sessions(sim, n3_first)
        except (FivecoreError, OSError) as exc:
            await sim.stop()
            raise FivecoreError(f"user plane start failed: {exc}") from None
    await sim.serve_control(control)
    settle_heap()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        result = None
        if not no_register and sim.ues:
            with Progress(TextColumn("registering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console, disable=as_json) as prog:
                task = prog.add_task("reg", total=len(sim.ues))
                # follow-on request (TS 24.501 §5.5.1.2.2) when sessions come next: the NG
                # connection stays for them
                result = await sim.register_all(concurrency=concurrency, rate=rate,
                                                progress=lambda: prog.advance(task), follow_on=up is not None)
        sess = None
        if up is not None and not no_register:
            sess = await sim.establish_sessions(up, concurrency=min(concurrency, 50))
        summary = sim.summary()
        if result is not None:
            summary["registration"] = {k: v for k, v in result.items() if k != "failed"}
            summary["registration"]["failed"] = len(result["failed"])
            summary["registration"]["per_second"] = result["total"] / result["seconds"] if result["seconds"] else None
        if sess is not None:
            summary["pdu_sessions"] = sess
        if exit_after:
            summary["deregistration"] = {k: v for k, v in (await sim.deregister_all(concurrency=concurrency)).items()
                                         if k != "failed"}
        _print_summary(summary, as_json, console)
        if not exit_after:
            console.print(f"simulator running; control socket {control} (Ctrl-C to stop)")
            await stop.wait()
    finally:
        if up is not None:
            await up.close()
        await sim.stop()


def _print_summary(summary: dict[str, Any], as_json: bool, console: Console) -> None:
    if as_json:
        typer.echo(json.dumps(summary))
        return
    t = Table(title="RAN simulator")
    t.add_column("what")
    t.add_column("value")
    t.add_row("gNBs", str(summary["gnbs"]))
    t.add_row("UEs", str(summary["ues"]))
    for k, v in summary["states"].items():
        t.add_row(f"UEs {k}", str(v))
    reg = summary.get("registration")
    if reg:
        t.add_row("registrations ok", f"{reg['ok']}/{reg['total']}")
        if reg.get("per_second"):
            t.add_row("registrations/s", f"{reg['per_second']:.0f}")
    lat = summary["latency_ms"]
    if lat["p50"] is not None:
        t.add_row("latency p50 / p99", f"{lat['p50']:.1f} / {lat['p99']:.1f} ms")
    sess = summary.get("pdu_sessions")
    if sess is not None:
        t.add_row("PDU sessions ok", f"{sess['ok']}/{sess['total']}")
    Console().print(t)
    if sess:
        p = Table(title="PDU sessions")
        for col in ("SUPI", "PSI", "type", "DNN", "IPv4", "IPv6", "netns", "interface"):
            p.add_column(col)
        for x in sess["sessions"][:50]:
            p.add_row(x["supi"], str(x["psi"]), x["type"], x["dnn"], x["ipv4"] or "-", x["ipv6"] or "-",
                      x["netns"] or "-", x["interface"] or "-")
        Console().print(p)
        for f in sess["failed"][:5]:
            Console(stderr=True).print(f"session failed: {f}")


@ue_app.command("list")
def ue_list(control: str = ControlOpt, as_json: bool = JsonOpt) -> None:
    """List the simulator's UEs and their 5GMM state."""
    resp = _ask(control, {"cmd": "ue list"})
    if as_json:
        typer.echo(json.dumps(resp["ues"]))
        return
    t = Table()
    for col in ("SUPI", "state", "5G-GUTI", "gNB", "AMF", "connected", "last cause"):
        t.add_column(col)
    for u in resp["ues"]:
        t.add_row(u["supi"], u["state"], u["guti"] or "-", str(u["gnb"]), u.get("amf") or "-",
                  "yes" if u["connected"] else "no", "-" if u["last_cause"] is None else str(u["last_cause"]))
    Console().print(t)


def _ue_cmd(cmd: str, imsi: str, control: str, as_json: bool, **extra: Any) -> None:
    resp = _ask(control, {"cmd": cmd, "supi": imsi, **extra})
    u = resp["ue"]
    if as_json:
        typer.echo(json.dumps(u))
    else:
        typer.echo(f"{u['supi']}: {u['state']}" + (f" (cause {u['last_cause']})" if u["last_cause"] else ""))


@ue_app.command("deregister")
def ue_deregister(
    imsi: str = typer.Argument(..., help="IMSI or imsi-... SUPI."),
    switch_off: bool = typer.Option(False, "--switch-off"),
    control: str = ControlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """UE-initiated de-registration (TS 24.501 §5.5.2.2)."""
    _ue_cmd("ue deregister", imsi, control, as_json, switch_off=switch_off)


@ue_app.command("register")
def ue_register(imsi: str = typer.Argument(...), control: str = ControlOpt, as_json: bool = JsonOpt) -> None:
    """(Re-)register one UE (with its 5G-GUTI if it has one)."""
    _ue_cmd("ue register", imsi, control, as_json)


@ue_app.command("service-request")
def ue_service_request(imsi: str = typer.Argument(...), control: str = ControlOpt, as_json: bool = JsonOpt) -> None:
    """Service Request from idle (TS 24.501 §5.6.1)."""
    _ue_cmd("ue service-request", imsi, control, as_json)


@gnb_app.command("status")
def gnb_status(control: str = ControlOpt, as_json: bool = JsonOpt) -> None:
    """NG Setup state and counters of every gNB."""
    resp = _ask(control, {"cmd": "gnb status"})
    if as_json:
        typer.echo(json.dumps(resp["gnbs"]))
        return
    t = Table()
    for col in ("id", "name", "NG ready", "AMF", "connected UEs", "NGAP rx/tx", "Error Ind rx"):
        t.add_column(col)
    for g in resp["gnbs"]:
        t.add_row(str(g["id"]), g["name"], "yes" if g["ready"] else "no", g["amf"] or "-", str(g["connected_ues"]),
                  f"{g['ngap_rx']}/{g['ngap_tx']}", str(g["error_indications_rx"]))
    Console().print(t)
    if any(len(g.get("amfs") or ()) > 1 for g in resp["gnbs"]):
        # TS 23.501 §5.21.2: a gNB with an NG connection to each AMF of a set
        a = Table(title="NG connections per AMF")
        for col in ("gNB", "AMF address", "AMF name", "NG ready", "UEs", "capacity", "GUAMIs"):
            a.add_column(col)
        for g in resp["gnbs"]:
            for c in g.get("amfs") or ():
                a.add_row(str(g["id"]), c["address"], c["amf"] or "-", "yes" if c["ready"] else "no", str(c["ues"]),
                          "-" if c["relative_capacity"] is None else str(c["relative_capacity"]),
                          ", ".join(c["guamis"]) or "-")
        Console().print(a)


def register(app: typer.Typer) -> None:
    app.add_typer(ran_app, name="ran")
