"""Subscriber management end to end: the ``fivecore subscriber`` command on a real store and the
management REST API of a running UDR process (bearer token, bulk create, same operations)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import fivecore.nf.udr as udr_pkg
from fivecore.nf.common.launch import NfProcess, free_port
from fivecore.store import SubscriberStore
from fivecore.transport.http2 import Http2Client
from fivecore.wire.sbi.schema import OpenApiValidator

pytestmark = pytest.mark.e2e

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
MGMT_DOC = Path(udr_pkg.__file__).parent


def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "subscriber", *args],
                         capture_output=True, text=True, timeout=120)
    if ok:
        assert res.returncode == 0, res.stderr
    return res


def test_cli_import_list_show_update_export_delete(tmp_path):
    db = f"sqlite:///{tmp_path / 'subs.db'}"
    doc = {"profiles": {"iot": {"amf": "8000", "am": {"subscribedUeAmbr": {"uplink": "1 Mbps", "downlink": "2 Mbps"}}}},
           "defaults": {"profile": "iot"},
           "subscribers": [{"imsi": f"0010100000000{i:02d}", "k": K, "opc": OPC} for i in range(20)]}
    (tmp_path / "subs.yaml").write_text(yaml.safe_dump(doc))
    out = json.loads(cli("import", str(tmp_path / "subs.yaml"), "--db", db, "--json").stdout)
    assert out["created"] == 20
    (tmp_path / "more.csv").write_text("imsi,k,opc,msisdn\n001010000000100," + K + "," + OPC + ",4912345\n")
    cli("import", str(tmp_path / "more.csv"), "--db", db)
    listing = json.loads(cli("list", "--db", db, "--json", "--limit", "5").stdout)
    assert listing["total"] == 21 and len(listing["items"]) == 5
    assert all("k" not in s and "opc" not in s for s in listing["items"])
    shown = json.loads(cli("show", "001010000000003", "--db", db, "--json").stdout)
    assert shown["profile"] == "iot" and shown["effective"]["am"]["subscribedUeAmbr"]["uplink"] == "1 Mbps"
    cli("update", "001010000000003", "--sqn", "40", "--db", db)
    assert json.loads(cli("show", "001010000000003", "--db", db, "--json").stdout)["sqn"] == "000000000040"
    export = tmp_path / "out.csv"
    cli("export", str(export), "--db", db)
    rows = export.read_text().splitlines()
    assert rows[0].startswith("imsi,k,opc") and len(rows) == 22 and K in rows[1]
    cli("delete", "001010000000003", "--db", db)
    assert json.loads(cli("list", "--db", db, "--json").stdout)["total"] == 20
    # mistakes: one clear line, exit 2, no traceback
    for args in (("show", "001010000000003"), ("add", "--imsi", "123", "--k", K, "--opc", OPC),
                 ("import", str(tmp_path / "nope.csv"))):
        res = cli(*args, "--db", db, ok=False)
        assert res.returncode == 2 and res.stderr.startswith("fivecore: error:") and "Traceback" not in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("imsi,k,opc\n001010000000500,zz,00\n")
    res = cli("import", str(bad), "--db", db, ok=False)
    assert res.returncode == 2 and "record 1" in res.stderr
    # re-importing the export into a fresh store gives the same subscribers
    db2 = f"sqlite:///{tmp_path / 'copy.db'}"
    cli("import", str(export), "--db", db2)
    assert SubscriberStore(db2).get("001010000000004").k.hex() == K


@pytest.fixture(scope="module")
def udr(tmp_path_factory):
    work = tmp_path_factory.mktemp("mgmt")
    cfg = {"db_uri": f"sqlite:///{work / 's.db'}", "logging": {"level": "warning"},
           "udr": {"sbi": {"address": "127.0.0.1", "port": free_port()}, "nrf_uri": None,
                   "mgmt": {"address": "127.0.0.1", "port": free_port(), "token": "s3cret"}}}
    p = NfProcess("udr", cfg, work).start()
    yield p, f"http://127.0.0.1:{cfg['udr']['mgmt']['port']}/mgmt/v1"
    p.stop()


async def test_rest_management_api(udr):
    proc, base = udr
    doc = OpenApiValidator(MGMT_DOC)
    auth = {"authorization": "Bearer s3cret"}
    async with Http2Client(timeout=20) as c:
        r = await c.request("GET", base + "/subscribers")
        assert r.status == 401 and r.headers["content-type"] == "application/problem+json"
        r = await c.request("GET", base + "/subscribers", headers={"authorization": "Bearer wrong"})
        assert r.status == 401
        spec = yaml.safe_load((await c.request("GET", base + "/openapi.yaml")).body)
        assert "/mgmt/v1/subscribers-bulk" in spec["paths"]
        r = await c.request("PUT", base + "/profiles/gold", headers=auth, json={"amf": "8000", "am": {"subscribedUeAmbr": {"uplink": "9 Gbps", "downlink": "9 Gbps"}}})
        assert r.status == 204
        r = await c.request("POST", base + "/subscribers", headers=auth, json={"imsi": "001010000000001", "k": K, "opc": OPC, "profile": "gold"})
        assert r.status == 201 and doc.schema_errors("mgmt_openapi.yaml", "Subscriber", r.json()) == []
        r = await c.request("POST", base + "/subscribers", headers=auth, json={"imsi": "001010000000001", "k": K, "opc": OPC})
        assert r.status == 409
        subs = [{"imsi": f"00102{i:010d}", "k": K, "opc": OPC} for i in range(1000)]
        bad = [*subs[:10], {"imsi": "00102999", "k": "nothex"}]
        r = await c.request("POST", base + "/subscribers-bulk", headers=auth, json={"profile": "gold", "subscribers": bad})
        assert r.status == 400 and "subscribers[10]" in r.json()["detail"]
        r = await c.request("POST", base + "/subscribers-bulk", headers=auth, json={"profile": "gold", "subscribers": subs})
        assert r.status == 201 and r.json() == {"created": 1000}
        r = await c.request("GET", base + "/subscribers", headers=auth, query={"limit": 10, "prefix": "00102"})
        page = r.json()
        assert page["total"] == 1001 and len(page["items"]) == 10
        assert doc.schema_errors("mgmt_openapi.yaml", "SubscriberPage", page) == []
        r = await c.request("GET", base + "/subscribers/imsi-001020000000007", headers=auth)
        assert r.json()["effective"]["am"]["subscribedUeAmbr"]["uplink"] == "9 Gbps" and "k" not in r.json()
        r = await c.request("PATCH", base + "/subscribers/001020000000007", headers=auth, json={"sqn": "1000", "msisdn": "4900"})
        assert r.status == 200 and r.json()["sqn"] == "000000001000"
        r = await c.request("PATCH", base + "/subscribers/001020000000007", headers=auth, json={"colour": "red"})
        assert r.status == 400
        r = await c.request("DELETE", base + "/subscribers/001020000000007", headers=auth)
        assert r.status == 204
        r = await c.request("GET", base + "/subscribers/001020000000007", headers=auth)
        assert r.status == 404
        r = await c.request("GET", base + "/export", headers=auth)
        exported = r.json()["subscribers"]
        assert len(exported) == 1000 and exported[0]["k"] == K
        r = await c.request("DELETE", base + "/profiles/gold", headers=auth)
        assert r.status == 400  # still in use
    assert proc.alive()
