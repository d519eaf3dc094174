"""``fivecore ran ue handover IMSI --gnb ID [--n2 [--cancel]]``: Xn handover of a connected UE in
the running simulator (TS 23.502 §4.9.1.2.2; :func:`fivecore.ran.handover.xn_handover`), or N2
handover through the AMF (TS 23.502 §4.9.1.3; :func:`fivecore.ran.n2_handover.n2_handover`).

The simulator must run with ``--sessions`` (the handover moves the UE's PDU sessions to the
target's N3 endpoint) and at least two gNBs (``--gnbs 2``); gNB ids are listed by
``fivecore ran gnb status``.
"""

from __future__ import annotations

import json

import typer

from fivecore.cli.ran import ControlOpt, JsonOpt, ue_app
from fivecore.errors import FivecoreError


def ue_handover(
    imsi: str = typer.Argument(..., help="IMSI or imsi-... SUPI of a CM-CONNECTED UE with a PDU session."),
    gnb: int = typer.Option(..., "--gnb", help="Id of the target gNB (see `fivecore ran gnb status`)."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds to wait for the AMF's answer."),
    n2: bool = typer.Option(False, "--n2", help="N2 handover through the AMF (TS 23.502 §4.9.1.3) instead of Xn."),
    cancel: bool = typer.Option(False, "--cancel", help="With --n2: cancel after the HANDOVER COMMAND (the UE stays)."),
    control: str = ControlOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Xn handover to another gNB: the target's PATH SWITCH REQUEST to the AMF (TS 38.413 §8.4.4);
    with --n2, N2 handover: HANDOVER REQUIRED / REQUEST / COMMAND / NOTIFY (TS 38.413 §8.4.1-8.4.3)."""
    import asyncio

    from fivecore.ran.app import control_request

    if cancel and not n2:
        raise FivecoreError("--cancel needs --n2")
    resp = asyncio.run(control_request(control, {"cmd": "ue handover", "supi": imsi, "gnb": gnb,
                                                 "timeout": timeout, "n2": n2, "cancel": cancel},
                                       timeout=timeout + 5))
    if not resp.get("ok"):
        raise FivecoreError(str(resp.get("error", "handover failed")))
    u = resp["ue"]
    if as_json:
        typer.echo(json.dumps(u))
    else:
        typer.echo(f"{u['supi']}: now on gNB {u['gnb']}")


def register(app: typer.Typer) -> None:
    """Adds the command to ``fivecore ran ue`` (registered by fivecore.cli.ran)."""
    ue_app.command("handover")(ue_handover)
