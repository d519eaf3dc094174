"""``fivecore decode``: paste hex, get a readable NGAP / NAS-5GS / PFCP / GTP-U tree."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from fivecore.errors import FivecoreError


def _tree(label: str, value: Any, parent: Any) -> None:
    if isinstance(value, dict):
        node = parent.add(f"[bold]{label}[/bold]")
        for k, v in value.items():
            _tree(str(k), v, node)
    elif isinstance(value, list):
        node = parent.add(f"[bold]{label}[/bold] [dim]({len(value)})[/dim]")
        for i, v in enumerate(value):
            if isinstance(v, dict) and len(v) == 1:
                (k, inner), = v.items()
                _tree(k, inner, node)
            else:
                _tree(f"[{i}]", v, node)
    else:
        parent.add(f"{label}: [cyan]{value}[/cyan]")


def decode_cmd(
    hex_data: str = typer.Argument(..., metavar="HEX", help="Hex bytes, or - to read stdin."),
    proto: str = typer.Option(None, "--proto", "-p", help="ngap, nas, pfcp or gtpu (default: guess)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a tree."),
) -> None:
    """Decode an NGAP, NAS-5GS, PFCP or GTP-U message given as hex."""
    from fivecore.wire.describe import decode_any, parse_hex, to_plain
    from fivecore.wire.errors import WireError

    text = sys.stdin.read() if hex_data == "-" else hex_data
    try:
        data = parse_hex(text)
        if not data:
            raise FivecoreError("no bytes to decode")
        name, msg = decode_any(data, proto.lower() if proto else None)
    except WireError as exc:
        raise FivecoreError(f"cannot decode: {exc}") from None
    plain = to_plain(msg)
    if as_json:
        typer.echo(json.dumps({"protocol": name, "length": len(data), "message": plain}, indent=2))
        return
    from rich.console import Console
    from rich.tree import Tree

    title = plain.get("message_type") or plain.get("message") or name
    root = Tree(f"[bold green]{plain.get('protocol', name)}[/bold green] {title} "
                f"[dim]({len(data)} octets)[/dim]")
    for k, v in plain.items():
        if k in ("protocol",):
            continue
        _tree(k, v, root)
    Console().print(root)


def register(app: typer.Typer) -> None:
    app.command("decode")(decode_cmd)
