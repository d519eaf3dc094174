"""``fivecore up``, ``fivecore status``, ``fivecore demo`` and ``fivecore config show``.

    fivecore config show [--config FILE] [--json]   # the effective configuration (secrets hidden)
    sudo fivecore up [--config FILE] [--pcap FILE]    # the whole core on this host until Ctrl-C
    fivecore status [--json]                          # gNBs, UEs, PDU sessions of the running core
    sudo fivecore demo [--ues N] [--json]             # start, register, ping, stream, tear down

The work is in :mod:`fivecore.netup`; this module only parses options and prints.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from fivecore.config import load_config
from fivecore.errors import FivecoreError

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML configuration file (default: built-in defaults).")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def config_show(config: Path = ConfigOpt, as_json: bool = JsonOpt) -> None:
    """Print the effective configuration (file + defaults); a wrong key fails with one line."""
    from fivecore.netup.network import dump_config, redacted

    doc = redacted(dump_config(load_config(config)))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        typer.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)


def _get_json(url: str, timeout: float = 3.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own metrics listener
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FivecoreError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None


def collect_status(config_path: Path | None) -> dict[str, Any]:
    """gNBs, UEs and PDU sessions of the running network, from the NFs' info APIs."""
    from fivecore.netup.network import read_state

    state = read_state(load_config(config_path))
    nfs = state["nfs"]
    out: dict[str, Any] = {"nfs": {n: v.get("status") for n, v in nfs.items()}, "gnbs": [], "ues": [], "pdu_sessions": [],
                           # processes `up` supervises (up.restart): restarts and last exit status
                           "restarts": {n: {"restarts": v.get("restarts", 0), "last_exit": v.get("last_exit")}
                                        for n, v in nfs.items() if "restarts" in v},
                           "amf_set": [{k: e.get(k) for k in ("member", "pid", "status", "ngap", "amf_pointer",
                                                              "ue_pools", "restarts", "last_exit")}
                                       for e in state.get("amf_set") or []]}
    # every member of the AMF Set (up.amf_set_size), up's own first
    entries = [e for e in state.get("amf_set") or [] if e.get("status") == "running"] or [
        {"member": 0, "metrics": {nf: nfs.get(nf, {}).get("metrics") for nf in ("amf", "smf")}}]
    for e in entries:
        m = e.get("metrics") or {}
        try:
            gnbs = _get_json(f"{m['amf']}/gnb-info?page=-1")["items"] if m.get("amf") else []
            ues = _get_json(f"{m['amf']}/ue-info?page=-1")["items"] if m.get("amf") else []
            pdus = _get_json(f"{m['smf']}/pdu-info?page=-1")["items"] if m.get("smf") else []
        except FivecoreError as exc:
            if not e.get("member"):
                raise  # up's own NFs: the network itself does not answer
            # a member that `up` just restarted may not listen yet: say so, show the others
            for row in out["amf_set"]:
                if row["member"] == e["member"]:
                    row["status"] = "not answering"
                    row["error"] = str(exc)
            continue
        out["gnbs"] += gnbs
        out["ues"] += ues
        out["pdu_sessions"] += pdus
    return out


def _exit_text(status: Any) -> str:
    """A Popen return code for a table cell: ``-9`` is ``SIGKILL``, ``2`` is ``status 2``."""
    from fivecore.netup.supervise import describe_status

    if status is None:
        return "-"
    return describe_status(int(status)).replace("killed by ", "").replace("exit status", "status")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")

    @app.command("up")
    def up_cmd(
        config: Path = ConfigOpt,
        pcap: Path = typer.Option(None, "--pcap", help="Write the N2/N3/N4/SBI traffic of the core to this pcap."),
    ) -> None:
        """Start the whole core on this host (control plane in one process, or up.amf_set_size processes
        as one AMF Set; UPF in its own) until Ctrl-C."""
        from fivecore.netup.network import up

        up(config, pcap)

    @app.command("status")
    def status_cmd(config: Path = ConfigOpt, as_json: bool = JsonOpt) -> None:
        """gNBs, registered UEs and PDU sessions of the network `fivecore up` runs."""
        st = collect_status(config)
        if as_json:
            typer.echo(json.dumps(st, indent=2))
            return
        con = Console()
        t = Table(title="network functions")
        t.add_column("NF")
        t.add_column("status")
        t.add_column("restarts")
        t.add_column("last exit")
        for n, s in st["nfs"].items():
            r = st.get("restarts", {}).get(n)
            t.add_row(n, s or "-", str(r["restarts"]) if r else "-", _exit_text(r["last_exit"]) if r else "-")
        con.print(t)
        if len(st["amf_set"]) > 1:
            a = Table(title=f"AMF Set ({len(st['amf_set'])} control-plane processes)")
            for col in ("member", "pid", "status", "NGAP", "AMF Pointer", "UE pool", "restarts", "last exit"):
                a.add_column(col)
            for e in st["amf_set"]:
                own = not e["member"]  # up's own process: supervised by whoever started up
                a.add_row(str(e["member"]), str(e["pid"]), str(e.get("status")), str(e["ngap"]),
                          str(e["amf_pointer"]), ", ".join(e.get("ue_pools") or []),
                          "-" if own else str(e.get("restarts") or 0), "-" if own else _exit_text(e.get("last_exit")))
            con.print(a)
        g = Table(title=f"gNBs ({len(st['gnbs'])})")
        for col in ("gNB id", "name", "state", "SCTP peer", "UEs"):
            g.add_column(col)
        for x in st["gnbs"]:
            g.add_row(str(x.get("gnb_id")), str(x.get("name")), str(x.get("state")), str(x.get("sctp_peer")),
                      str(x.get("num_connected_ues")))
        con.print(g)
        registered = sum(1 for u in st["ues"] if u.get("gmm_state") == "REGISTERED")
        u = Table(title=f"UEs ({registered} registered of {len(st['ues'])})")
        for col in ("SUPI", "5GMM", "CM", "gNB", "NEA/NIA"):
            u.add_column(col)
        for x in st["ues"][:50]:
            sec = x.get("security") or {}
            u.add_row(str(x.get("supi")), str(x.get("gmm_state")), str(x.get("cm_state")), str(x.get("gnb_id")),
                      f"{sec.get('nea')}/{sec.get('nia')}")
        con.print(u)
        p = Table(title=f"PDU sessions ({len(st['pdu_sessions'])})")
        for col in ("SUPI", "PSI", "DNN", "IPv4", "S-NSSAI"):
            p.add_column(col)
        for x in st["pdu_sessions"][:50]:
            p.add_row(str(x.get("supi")), str(x.get("pdu_session_id")), str(x.get("dnn")), str(x.get("ipv4")),
                      str(x.get("snssai")))
        con.print(p)

    @app.command("demo")
    def demo_cmd(
        ues: int = typer.Option(None, "--ues", min=1, help="Number of UEs (default demo.ues, 10)."),
        config: Path = ConfigOpt,
        as_json: bool = JsonOpt,
        keep_data: bool = typer.Option(False, "--keep-data", help="Keep the demo's data directory and logs."),
        pcap: Path = typer.Option(None, "--pcap", help="Capture the core's N2/N3/N4 traffic to this pcap."),
        ipv6: bool = typer.Option(None, "--ipv6/--no-ipv6",
                                  help="IPv4v6 sessions and ping -6 to the DN (default: demo.ipv6, else when the "
                                       "kernel can forward IPv6 per device)."),
    ) -> None:
        """Start the network, register UEs, open PDU sessions, ping and stream through the UPF, tear down."""
        from fivecore.netup.demo import print_report, run_demo

        report = run_demo(config, ues, quiet=as_json, keep_data=keep_data, pcap=pcap, ipv6=ipv6)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        else:
            print_report(report)
        sys.exit(0 if report["passed"] else 1)
