"""``fivecore trust ...`` (policy check, vendor diversity) and ``fivecore audit`` (RAN exposure).

Both read files other processes write (the trust audit log of the NRF and AMFs, the AMF's
exposure ledger), so they work against a running network or after it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from fivecore.errors import ConfigError
from fivecore.trust.audit_log import current_subjects, read_audit_log, utc_timestamp
from fivecore.trust.decision import Zone
from fivecore.trust.diversity import DiversityReport, compute_diversity
from fivecore.trust.exposure import (
    LEDGER_FILE,
    METRIC_INFO,
    AmfSecuritySettings,
    Metric,
    load_summary,
)
from fivecore.trust.policy import TrustPolicy
from fivecore.trust.report import SUMMARY_METRICS, AuditReport, handover_events

DEFAULT_DATA_DIR = "var"

trust_app = typer.Typer(
    help="Vendor trust zones: check a policy, report vendor diversity per zone (SM05).",
    no_args_is_help=True,
)


def _data_dir(value: Path | None) -> Path:
    return value or Path(os.environ.get("FIVECORE_DATA_DIR", DEFAULT_DATA_DIR))


def _policy_path(value: Path | None) -> Path | None:
    if value is not None:
        return value
    env = os.environ.get("FIVECORE_TRUST_POLICY")
    return Path(env) if env else None


def _diversity(policy: TrustPolicy, audit_log: Path) -> tuple[DiversityReport, int]:
    contents = read_audit_log(audit_log)
    return compute_diversity(policy, current_subjects(contents.records)), len(contents.malformed_lines)


def _audit_log_path(policy: TrustPolicy, value: Path | None) -> Path:
    return value if value is not None else Path(policy.config.audit_log.path)


@trust_app.command("check")
def check(
    policy_file: Path = typer.Argument(..., help="Policy file: standalone, or the main config with a trust: section."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Validate a trust policy and show which vendors may serve which zone."""
    policy = TrustPolicy.from_file(policy_file)
    matrix: dict[str, dict[str, str]] = {}
    for key, v in policy.vendors.items():
        matrix[key] = {}
        for zone in Zone:
            matrix[key][zone.value] = policy.action_for(zone, v)[0].value
    unknown = {z.value: policy.unknown_vendor_action(z)[0].value for z in Zone}
    if json_out:
        out = {
            "policy": str(policy_file),
            "vendors": {
                k: {"name": v.name, "pen": v.pen, "vendor_id": v.vendor_id, "risk_class": v.risk_class, "zones": matrix[k]}
                for k, v in policy.vendors.items()
            },
            "unknown_vendor": unknown,
            "handover_refuse": policy.handover_rules(),
        }
        typer.echo(json.dumps(out, indent=2))
        return
    console = Console()
    table = Table(title=f"Trust policy {policy_file}: OK")
    table.add_column("Vendor")
    table.add_column("PEN", justify="right")
    table.add_column("Risk class")
    for z in Zone:
        table.add_column(z.value)
    for key, v in policy.vendors.items():
        table.add_row(f"{v.name} ({key})", v.vendor_id, v.risk_class, *(matrix[key][z.value] for z in Zone))
    table.add_row("[i]unknown vendor[/i]", "", "", *(unknown[z.value] for z in Zone))
    console.print(table)
    rules = policy.handover_rules()
    if not rules:
        console.print("Xn handover (Path Switch): allowed between any admitted gNBs (no handover.refuse rules)")
        return
    ho = Table(title="Xn handover (Path Switch) refused", title_justify="left")
    for col in ("Rule", "From gNBs of", "To gNBs of"):
        ho.add_column(col)
    for r in rules:
        ho.add_row(f"{r['id']} ({r['rule']})", _side(r["source"]), _side(r["target"]))
    console.print(ho)


def _side(side: dict[str, Any]) -> str:
    """One side of a handover rule for a person: vendors, risk classes, unknown vendor."""
    parts = [*side["vendors"], *(f"risk class {c}" for c in side["risk_classes"])]
    if side["unknown_vendor"]:
        parts.append("an unknown vendor")
    return ", ".join(parts)


@trust_app.command("report")
def report(
    policy_file: Path | None = typer.Option(None, "--policy", "-p", help="Trust policy (or $FIVECORE_TRUST_POLICY)."),
    audit_log: Path | None = typer.Option(None, "--audit-log", help="Audit log to replay (default: the policy's audit_log.path)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    fail_on_cap: bool = typer.Option(False, "--fail-on-cap", help="Exit with status 1 when a zone is above a cap."),
) -> None:
    """Vendor diversity (SM05): each zone's share per vendor, zones above a configured cap flagged."""
    path = _policy_path(policy_file)
    if path is None:
        raise ConfigError("no trust policy: pass --policy FILE or set FIVECORE_TRUST_POLICY")
    policy = TrustPolicy.from_file(path)
    log_path = _audit_log_path(policy, audit_log)
    div, malformed = _diversity(policy, log_path)
    ho = handover_events(read_audit_log(log_path).records)
    if json_out:
        out = {"policy": str(path), "audit_log": str(log_path), "malformed_lines": malformed, **div.to_dict(),
               "handover_events": ho}
        typer.echo(json.dumps(out, indent=2))
    else:
        console = Console()
        console.print(f"Vendor diversity from [b]{log_path}[/b] under policy [b]{path}[/b]")
        if malformed:
            console.print(f"[yellow]{malformed} malformed audit log lines skipped[/yellow]")
        for z in div.zones:
            table = Table(title=f"zone {z.zone}: {z.total} admitted", title_justify="left")
            table.add_column("Vendor")
            table.add_column("Risk class")
            table.add_column("Count", justify="right")
            table.add_column("Share", justify="right")
            for v in z.vendors:
                table.add_row(v.vendor_name, v.risk_class, str(v.count), f"{v.share:.1%}")
            console.print(table)
            for f in z.flags:
                console.print(f"[bold red]CAP EXCEEDED[/bold red] {f.message}")
        if not div.flags:
            console.print("[green]No zone above a configured cap.[/green]")
        if ho:
            table = Table(title="Xn handover (Path Switch) refusals and suspected hijacks", title_justify="left")
            for col in ("Event", "Claiming gNB's vendor", "Source gNB's vendor", "Count"):
                table.add_column(col, justify="right" if col == "Count" else "left")
            for e in ho:
                table.add_row(e["event"], e["vendor"], e["source_vendor"], str(e["count"]))
            console.print(table)
    if fail_on_cap and div.flags:
        raise typer.Exit(1)


def _load_amf_security(path: Path) -> AmfSecuritySettings:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(data, dict) and "amf_security" in data:
        data = data["amf_security"]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of AMF security settings")
    try:
        return AmfSecuritySettings.from_mapping(data)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def audit(
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data directory (or $FIVECORE_DATA_DIR; default ./var)."),
    ledger: Path | None = typer.Option(None, "--ledger", help=f"Exposure ledger (default DATA_DIR/{LEDGER_FILE})."),
    policy_file: Path | None = typer.Option(None, "--policy", "-p", help="Trust policy, to add vendor diversity."),
    audit_log: Path | None = typer.Option(None, "--audit-log", help="Trust audit log (default: the policy's)."),
    amf_security: Path | None = typer.Option(None, "--amf-security", help="YAML AMF security settings to check instead of the recorded ones."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report to FILE."),
) -> None:
    """RAN exposure audit: what each RAN vendor could observe, and configuration findings."""
    ledger_path = ledger or _data_dir(data_dir) / LEDGER_FILE
    summary = load_summary(ledger_path)
    if amf_security is not None:
        summary.amf_config = _load_amf_security(amf_security)
    diversity = None
    log_path = None
    ppath = _policy_path(policy_file)
    if ppath is not None:
        policy = TrustPolicy.from_file(ppath)
        log_path = _audit_log_path(policy, audit_log)
        diversity, _ = _diversity(policy, log_path)
        for key, v in summary.vendors.items():
            ref = policy.vendor(key)
            if ref is not None:
                v.vendor_name = v.vendor_name or ref.name
                v.risk_class = v.risk_class or ref.risk_class
    rep = AuditReport(
        generated=utc_timestamp(),
        exposure=summary,
        diversity=diversity,
        ledger_path=str(ledger_path),
        audit_log_path=str(log_path) if log_path else None,
        policy_source=str(ppath) if ppath else None,
    )
    if html is not None:
        try:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(rep.render_html(), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{html}: cannot write report: {exc.strerror or exc}") from None
    if json_out:
        typer.echo(json.dumps(rep.to_dict(), indent=2))
        return
    _print_audit(rep, html)


def _print_audit(rep: AuditReport, html: Path | None) -> None:
    console = Console()
    ex = rep.exposure
    console.print(f"RAN exposure from [b]{rep.ledger_path}[/b]: {ex.events} events"
                  + (f", [yellow]{ex.malformed} malformed skipped[/yellow]" if ex.malformed else ""))
    # Metrics as rows, vendors as columns: stays readable on an 80-column terminal.
    vendors = [v for _, v in sorted(ex.vendors.items())]
    if not vendors:
        console.print("No RAN activity recorded (the AMF writes the ledger; is --data-dir right?).")
    table = Table(title="What each RAN vendor could observe (UEs / events)", title_justify="left")
    table.add_column("Observation")
    for v in vendors:
        name = v.vendor_name or v.vendor
        table.add_column(f"{name}\n({v.risk_class or 'unknown'})", justify="right")
    table.add_row("gNBs", *(str(len(v.gnbs)) for v in vendors))
    table.add_row("UEs seen", *(str(len(v.ues)) for v in vendors), end_section=True)
    for m in (Metric.REGISTRATIONS, *SUMMARY_METRICS, Metric.IMEISV_MASKED):
        cells: list[Any] = []
        for v in vendors:
            text = f"{v.ue_count(m)} / {v.total(m)}"
            cells.append(f"[red]{text}[/red]" if v.total(m) and METRIC_INFO[m].exposure else text)
        table.add_row(METRIC_INFO[m].title, *cells)
    if vendors:
        console.print(table)
    if rep.diversity is not None:
        for f in rep.diversity.flags:
            console.print(f"[bold red]CAP EXCEEDED[/bold red] {f.message}")
    if ex.amf_config is None:
        console.print("No AMF security configuration recorded; pass --amf-security FILE to check one.")
    else:
        findings = rep.findings()
        if not findings:
            console.print("[green]Configuration: no findings.[/green]")
        for f in findings:
            colour = {"high": "red", "medium": "yellow", "low": "white"}[f.severity]
            console.print(f"[{colour}]{f.severity.upper()}[/{colour}] {f.title} — {'; '.join(f.clauses)}\n    fix: {f.fix}")
    if html is not None:
        console.print(f"HTML report written to {html}")


def register(app: typer.Typer) -> None:
    """Add ``fivecore trust ...`` and ``fivecore audit``."""
    app.add_typer(trust_app, name="trust")
    app.command("audit")(audit)
