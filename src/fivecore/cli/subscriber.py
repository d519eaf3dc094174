"""``fivecore subscriber ...``: provision subscribers in the store the UDR serves.

    fivecore subscriber add --imsi 001010000000001 --k <hex> --opc <hex> [--profile default]
    fivecore subscriber import subs.csv --profile iot        # columns: imsi,k,opc[,op,amf,sqn,msisdn,...]
    fivecore subscriber import subs.yaml                     # {profiles: {...}, defaults: {...}, subscribers: [...]}
    fivecore subscriber list | show IMSI | update IMSI ... | delete IMSI | export [FILE]
    fivecore subscriber profile list | show NAME | set NAME FILE | delete NAME

The store is ``--db URI``, else ``db_uri`` of ``--config FILE``, else $FIVECORE_DB, else the
one ``fivecore up`` serves (``subscribers.db`` in its data directory, ./var or $FIVECORE_DATA). Every command takes ``--json`` for scripts.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
import yaml

from fivecore.config import load_config
from fivecore.errors import FivecoreError
from fivecore.store import Subscriber, SubscriberStore
from fivecore.store.provision import changes_from_dict, subscriber_from_dict

BATCH = 5000

sub_app = typer.Typer(help="Provision subscribers (IMSI, K, OPc, profiles).", no_args_is_help=True)
profile_app = typer.Typer(help="Subscriber profiles (templates).", no_args_is_help=True)
sub_app.add_typer(profile_app, name="profile")

DbOpt = typer.Option(None, "--db", help="Store URI (sqlite:///file.db, postgresql+psycopg://...).")
CfgOpt = typer.Option(None, "--config", "-c", help="Configuration file (its db_uri is used).")
JsonOpt = typer.Option(False, "--json", help="Machine-readable JSON output.")


def open_store(db: str | None, config: Path | None) -> SubscriberStore:
    return SubscriberStore(db or load_config(config).store_uri())


def _out(obj: Any) -> None:
    typer.echo(json.dumps(obj, indent=2, sort_keys=False))


def _table(subs: list[Subscriber], total: int) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"subscribers ({len(subs)} of {total})")
    for col in ("SUPI", "profile", "auth", "AMF", "SQN", "overrides"):
        t.add_column(col)
    for s in subs:
        t.add_row(s.supi, s.profile or "-", s.auth_method, s.amf.hex(), f"{s.sqn:012x}", ",".join(sorted(s.data)) or "-")
    Console().print(t)


def read_records(path: Path, fmt: str | None) -> tuple[dict[str, Any], dict[str, Any], Iterator[dict[str, Any]], int | None]:
    """(profiles, defaults, records, count-if-known) from a CSV or YAML/JSON file."""
    kind = (fmt or path.suffix.lstrip(".")).lower()
    if kind not in ("csv", "yaml", "yml", "json"):
        raise FivecoreError(f"{path}: unknown format (use .csv, .yaml or .json, or --format)")
    try:
        if kind == "csv":
            with path.open(newline="") as f:
                total = max(0, sum(1 for _ in f) - 1)

            def rows() -> Iterator[dict[str, Any]]:
                with path.open(newline="") as f:
                    reader = csv.DictReader(f)
                    if not reader.fieldnames or not ({"imsi", "supi"} & set(reader.fieldnames)):
                        raise FivecoreError(f"{path}: the CSV header must name an imsi column")
                    for row in reader:
                        yield {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}

            return {}, {}, rows(), total
        doc = yaml.safe_load(path.read_text()) if kind != "json" else json.loads(path.read_text())
    except OSError as exc:
        raise FivecoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise FivecoreError(f"{path}: not valid {kind.upper()}: {exc}") from None
    if isinstance(doc, list):
        doc = {"subscribers": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("subscribers", []), list):
        raise FivecoreError(f"{path}: expected a list of subscribers or a mapping with 'subscribers'")
    subs = doc.get("subscribers") or []
    return dict(doc.get("profiles") or {}), dict(doc.get("defaults") or {}), iter(subs), len(subs)


def do_import(store: SubscriberStore, path: Path, profile: str | None, fmt: str | None, replace: bool,
              progress: bool) -> int:
    """Import a file in batches; returns the number created. Errors name the record."""
    profiles, defaults, records, total = read_records(path, fmt)
    for name, data in profiles.items():
        store.put_profile(str(name), dict(data or {}))
    if profile:
        defaults["profile"] = profile
    created = 0
    batch: list[Subscriber] = []

    def flush() -> None:
        nonlocal created, batch
        if batch:
            created += store.add_many(batch, batch=len(batch), replace=replace)
            batch = []

    def run(advance: Any) -> None:
        for i, rec in enumerate(records, 1):
            try:
                batch.append(subscriber_from_dict(rec, defaults))
            except FivecoreError as exc:
                raise FivecoreError(f"{path}: record {i}: {exc}") from None
            if len(batch) >= BATCH:
                n = len(batch)
                flush()
                advance(n)
        n = len(batch)
        flush()
        advance(n)

    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=False) as prog:
            task = prog.add_task("import", total=total)
            run(lambda n: prog.advance(task, n))
    else:
        run(lambda n: None)
    return created


def register(app: typer.Typer) -> None:
    app.add_typer(sub_app, name="subscriber")


@sub_app.command("add")
def add_cmd(
    imsi: str = typer.Option(..., "--imsi", help="IMSI digits or imsi-<digits>."),
    k: str = typer.Option(..., "--k", help="Subscriber key K (32 hex)."),
    opc: str = typer.Option(None, "--opc", help="OPc (32 hex)."),
    op: str = typer.Option(None, "--op", help="OP (32 hex) instead of OPc."),
    amf: str = typer.Option(None, "--amf", help="AMF (4 hex, default 8000)."),
    sqn: str = typer.Option(None, "--sqn", help="Initial SQN (hex)."),
    profile: str = typer.Option("default", "--profile", help="Profile (template) name."),
    msisdn: str = typer.Option(None, "--msisdn"),
    auth_method: str = typer.Option(None, "--auth-method", help="5G_AKA or EAP_AKA_PRIME."),
    db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt,
) -> None:
    """Create one subscriber."""
    store = open_store(db, config)
    rec = {"imsi": imsi, "k": k, "opc": opc, "op": op, "amf": amf, "sqn": sqn, "profile": profile,
           "msisdn": msisdn, "auth_method": auth_method}
    sub = subscriber_from_dict({kk: v for kk, v in rec.items() if v is not None})
    store.add(sub)
    if as_json:
        _out(store.get(sub.supi).public())
    else:
        typer.echo(f"added {sub.supi}")


@sub_app.command("list")
def list_cmd(
    offset: int = typer.Option(0, "--offset"), limit: int = typer.Option(100, "--limit"),
    prefix: str = typer.Option(None, "--prefix", help="IMSI/SUPI prefix."),
    db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt,
) -> None:
    """List subscribers (keys are never shown)."""
    store = open_store(db, config)
    subs = store.list(offset, limit, prefix)
    total = store.count()
    if as_json:
        _out({"total": total, "offset": offset, "items": [s.public() for s in subs]})
    else:
        _table(subs, total)


@sub_app.command("show")
def show_cmd(imsi: str, db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """Show one subscriber and its effective data (profile + overrides)."""
    store = open_store(db, config)
    sub = store.get(imsi)
    data = {**sub.public(), "effective": store.effective(sub)}
    if as_json:
        _out(data)
    else:
        from rich.console import Console
        from rich.pretty import Pretty

        Console().print(Pretty(data))


@sub_app.command("update")
def update_cmd(
    imsi: str,
    k: str = typer.Option(None, "--k"), opc: str = typer.Option(None, "--opc"), op: str = typer.Option(None, "--op"),
    amf: str = typer.Option(None, "--amf"), sqn: str = typer.Option(None, "--sqn"),
    profile: str = typer.Option(None, "--profile"), msisdn: str = typer.Option(None, "--msisdn"),
    auth_method: str = typer.Option(None, "--auth-method"),
    data: Path = typer.Option(None, "--data", help="YAML/JSON with sections am, sm, smf_selection, policy."),
    db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt,
) -> None:
    """Change a subscriber's keys, SQN, profile or data sections."""
    store = open_store(db, config)
    rec: dict[str, Any] = {kk: v for kk, v in {"k": k, "opc": opc, "op": op, "amf": amf, "sqn": sqn,
                                              "profile": profile, "msisdn": msisdn, "auth_method": auth_method}.items()
                           if v is not None}
    if data is not None:
        try:
            extra = yaml.safe_load(data.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise FivecoreError(f"--data {data}: {exc}") from None
        if not isinstance(extra, dict):
            raise FivecoreError(f"--data {data}: expected a mapping of sections")
        rec.update(extra)
    if not rec:
        raise FivecoreError("nothing to update (give --k, --opc, --sqn, --profile, --data, ...)")
    sub = store.update(imsi, **changes_from_dict(rec))
    if as_json:
        _out(sub.public())
    else:
        typer.echo(f"updated {sub.supi}")


@sub_app.command("delete")
def delete_cmd(imsi: str, db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """Delete a subscriber and its context data."""
    store = open_store(db, config)
    store.delete(imsi)
    if as_json:
        _out({"deleted": imsi})
    else:
        typer.echo(f"deleted {imsi}")


@sub_app.command("import")
def import_cmd(
    file: Path,
    profile: str = typer.Option(None, "--profile", help="Profile for records that name none."),
    fmt: str = typer.Option(None, "--format", help="csv, yaml or json (default: from the suffix)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite existing subscribers."),
    db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt,
) -> None:
    """Bulk import from CSV or YAML; profiles let each record carry only IMSI, K and OPc."""
    import time

    store = open_store(db, config)
    t0 = time.perf_counter()
    n = do_import(store, file, profile, fmt, replace, progress=not as_json)
    dt = time.perf_counter() - t0
    if as_json:
        _out({"created": n, "seconds": round(dt, 3)})
    else:
        typer.echo(f"imported {n} subscribers in {dt:.1f} s")


@sub_app.command("export")
def export_cmd(
    file: Path = typer.Argument(None, help="Output file (default: stdout)."),
    fmt: str = typer.Option(None, "--format", help="yaml, json or csv (default: from the suffix, else yaml)."),
    db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt,
) -> None:
    """Export every subscriber WITH keys (K, OPc/OP) — the output is secret."""
    store = open_store(db, config)
    kind = "json" if as_json else (fmt or (file.suffix.lstrip(".") if file else "yaml")).lower()
    rows = []
    for s in store.iter_all():
        d = s.public(with_keys=True)
        rec = {"imsi": s.supi[5:], "k": d["k"], "opc": d.get("opc"), "op": d.get("op"), "amf": d["amf"],
               "sqn": d["sqn"], "auth_method": s.auth_method, "profile": s.profile, **(s.data or {})}
        rows.append({k: v for k, v in rec.items() if v is not None})
    if kind == "csv":
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["imsi", "k", "opc", "op", "amf", "sqn", "auth_method", "profile", "msisdn"],
                           extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        text = buf.getvalue()
    elif kind == "json":
        text = json.dumps({"profiles": store.list_profiles(), "subscribers": rows}, indent=1)
    else:
        text = yaml.safe_dump({"profiles": store.list_profiles(), "subscribers": rows}, sort_keys=False)
    if file:
        file.write_text(text)
        file.chmod(0o600)
        if not as_json:
            typer.echo(f"exported {len(rows)} subscribers to {file}")
        else:
            _out({"exported": len(rows), "file": str(file)})
    else:
        typer.echo(text, nl=False)


@profile_app.command("list")
def profile_list(db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """List profiles."""
    profs = open_store(db, config).list_profiles()
    if as_json:
        _out({k: {kk: vv for kk, vv in v.items() if kk != "op"} for k, v in profs.items()})
    else:
        for name in sorted(profs):
            typer.echo(name)


@profile_app.command("show")
def profile_show(name: str, db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """Show a profile (its OP is not shown)."""
    prof = {k: v for k, v in open_store(db, config).get_profile(name).items() if k != "op"}
    _out(prof) if as_json else typer.echo(yaml.safe_dump(prof, sort_keys=False))


@profile_app.command("set")
def profile_set(name: str, file: Path, db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """Create or replace a profile from YAML/JSON (amf, auth_method, op, am, sm, smf_selection, policy)."""
    try:
        data = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FivecoreError(f"{file}: {exc}") from None
    if not isinstance(data, dict):
        raise FivecoreError(f"{file}: a profile is a mapping")
    open_store(db, config).put_profile(name, data)
    _out({"profile": name}) if as_json else typer.echo(f"profile {name} stored")


@profile_app.command("delete")
def profile_delete(name: str, db: str = DbOpt, config: Path = CfgOpt, as_json: bool = JsonOpt) -> None:
    """Delete a profile no subscriber uses."""
    open_store(db, config).delete_profile(name)
    _out({"deleted": name}) if as_json else typer.echo(f"profile {name} deleted")
