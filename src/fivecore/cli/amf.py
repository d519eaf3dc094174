"""``fivecore amf``: ask a running AMF to start an NGAP procedure towards the RAN.

    fivecore amf ue-modify imsi-001010000000001 --ambr-ul "100 Mbps" --ambr-dl "200 Mbps"
    fivecore amf ue-modify imsi-001010000000001 --security-key --rfsp 3
    fivecore amf config-update --name amf-2 --capacity 50 --slice 1 --slice 1:010203

The AMF is found through the configuration (``amf.sbi``) or ``--amf-uri``; the commands use its
management routes under ``/fivecore-amf/v1`` (HTTP/1.1 beside the h2c SBI).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

from fivecore.errors import FivecoreError

amf_app = typer.Typer(help="Ask a running AMF for UE Context Modification / AMF Configuration Update.",
                      no_args_is_help=True)


class AmfRequestError(FivecoreError):
    """The AMF could not be reached or refused the request."""


def _amf_uri(config: Path | None, amf_uri: str | None) -> str:
    if amf_uri:
        return amf_uri.rstrip("/")
    from fivecore.config import load_config

    return load_config(config).amf.sbi.uri


def _post(base: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - the operator's own AMF
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}").get("detail")
        except ValueError:
            detail = None
        raise AmfRequestError(f"AMF answered {exc.code}: {detail or exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise AmfRequestError(f"cannot reach the AMF at {base}: {getattr(exc, 'reason', exc)}") from None


ConfigOpt = typer.Option(None, "--config", "-c", help="YAML configuration (for amf.sbi).")
UriOpt = typer.Option(None, "--amf-uri", help="The AMF's SBI base URI, e.g. http://127.0.0.5:7777.")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


@amf_app.command("ue-modify")
def ue_modify(
    supi: str = typer.Argument(..., help="SUPI of a CM-CONNECTED UE, e.g. imsi-001010000000001."),
    security_key: bool = typer.Option(False, "--security-key", help="Send a fresh KgNB (and UE security capabilities)."),
    ambr_ul: str = typer.Option(None, "--ambr-ul", help='UE-AMBR uplink, e.g. "100 Mbps".'),
    ambr_dl: str = typer.Option(None, "--ambr-dl", help='UE-AMBR downlink, e.g. "200 Mbps".'),
    rfsp: int = typer.Option(None, "--rfsp", min=1, max=256, help="Index to RFSP."),
    config: Path = ConfigOpt,
    amf_uri: str = UriOpt,
    json_out: bool = JsonOpt,
) -> None:
    """TS 38.413 §8.3.4: UE Context Modification for one connected UE."""
    body: dict[str, Any] = {"securityKey": security_key}
    if (ambr_ul is None) != (ambr_dl is None):
        raise AmfRequestError("give both --ambr-ul and --ambr-dl")
    if ambr_ul is not None:
        body["ueAmbr"] = {"uplink": ambr_ul, "downlink": ambr_dl}
    if rfsp is not None:
        body["rfsp"] = rfsp
    if not security_key and rfsp is None and ambr_ul is None:
        raise AmfRequestError("nothing to modify: give --security-key, --ambr-ul/--ambr-dl or --rfsp")
    from fivecore.transport.http2.message import path_segment  # the transport only when sending

    _post(_amf_uri(config, amf_uri), f"/fivecore-amf/v1/ue-contexts/{path_segment(supi)}/modify", body)
    if json_out:
        typer.echo(json.dumps({"supi": supi, "sent": True}))
    else:
        typer.echo(f"UE Context Modification Request sent for {supi}")


def _slice(s: str) -> dict[str, Any]:
    sst, _, sd = s.partition(":")
    try:
        out: dict[str, Any] = {"sst": int(sst)}
    except ValueError:
        raise AmfRequestError(f"slice {s!r}: SST[:SD as 6 hex digits]") from None
    if sd:
        out["sd"] = sd
    return out


def _guami(s: str) -> dict[str, Any]:
    parts = s.split(":")
    try:
        plmn, region, set_id, pointer = parts
        return {"plmn": plmn, "regionId": int(region), "setId": int(set_id), "pointer": int(pointer)}
    except ValueError:
        raise AmfRequestError(f"GUAMI {s!r}: PLMN:REGION:SET:POINTER, e.g. 00101:3:1:1") from None


@amf_app.command("config-update")
def config_update(
    name: str = typer.Option(None, "--name", help="New AMF name."),
    capacity: int = typer.Option(None, "--capacity", min=0, max=255, help="Relative AMF capacity."),
    slices: list[str] = typer.Option(None, "--slice", help="Served S-NSSAI SST[:SD]; repeat for several."),
    guamis: list[str] = typer.Option(None, "--extra-guami", help="Extra served GUAMI PLMN:REGION:SET:POINTER."),
    config: Path = ConfigOpt,
    amf_uri: str = UriOpt,
    json_out: bool = JsonOpt,
) -> None:
    """TS 38.413 §8.7.3: AMF Configuration Update to every connected gNB."""
    body: dict[str, Any] = {}
    if name is not None:
        body["amfName"] = name
    if capacity is not None:
        body["relativeCapacity"] = capacity
    if slices:
        body["slices"] = [_slice(s) for s in slices]
    if guamis:
        body["extraGuamis"] = [_guami(g) for g in guamis]
    if not body:
        raise AmfRequestError("nothing to update: give --name, --capacity, --slice or --extra-guami")
    _, answer = _post(_amf_uri(config, amf_uri), "/fivecore-amf/v1/configuration-update", body)
    n = (answer or {}).get("gnbs", 0)
    if json_out:
        typer.echo(json.dumps({"gnbs": n}))
    else:
        typer.echo(f"AMF Configuration Update sent to {n} gNB(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(amf_app, name="amf")
