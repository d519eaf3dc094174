"""schemathesis against the NRF and the UDM, driven by the 3GPP OpenAPI files themselves.

The NFs run as real processes (NRF, UDR, UDM, AUSF); schemathesis generates requests from
TS29510_Nnrf_NFManagement.yaml, TS29510_Nnrf_NFDiscovery.yaml, TS29503_Nudm_UEAU.yaml,
TS29503_Nudm_SDM.yaml and TS29503_Nudm_UECM.yaml and sends them over HTTP/1.1 (the SBI ports
serve HTTP/1.1 beside h2c). Checks: no server error, and every response conforms to the schema
(status documented, body valid). The only 5xx tolerated is the one TS 29.503 §6.3.7.3 itself
prescribes: 501 UNSUPPORTED_PROTECTION_SCHEME for a SUCI whose protection scheme is not
null/A/B. Examples per operation are bounded to keep the run to a few minutes.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import response_schema_conformance
from schemathesis.core.failures import Failure

from fivecore.nf.common.launch import Core

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "3gpp-openapi"
EXAMPLES = int(os.environ.get("FIVECORE_SCHEMATHESIS_EXAMPLES", "15"))
VEC = json.loads((SPEC.parent / "vectors" / "milenage.json").read_text())["entries"][0]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory):
    c = Core(tmp_path_factory.mktemp("schemathesis"))
    c.start()
    req = urllib.request.Request(
        c.mgmt_uri + "/mgmt/v1/subscribers-bulk", method="POST",
        headers={"authorization": "Bearer test-token", "content-type": "application/json"},
        data=json.dumps({"subscribers": [{"imsi": f"00101{i:010d}", "k": VEC["k"], "opc": VEC["opc"]} for i in range(10)]}).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        assert resp.status == 201
    yield c
    c.stop()


@schemathesis.check
def no_server_error(ctx, response, case):
    """Any 5xx fails, except TS 29.503's own 501 UNSUPPORTED_PROTECTION_SCHEME."""
    if response.status_code >= 500:
        try:
            cause = response.json().get("cause")
        except Exception:
            cause = None
        if response.status_code == 501 and cause == "UNSUPPORTED_PROTECTION_SCHEME":
            return None
        raise Failure(operation=case.operation.label, title="Server error",
                      message=f"{response.status_code}: {response.text[:300]}")
    return None


def _load(name: str, include: str | None = None):
    schema = schemathesis.openapi.from_path(SPEC / name)
    # Examples and hypothesis fuzzing; the coverage phase trips over the 3GPP multipart
    # (binary) schemas inside schemathesis itself, so it is left out.
    schema.config.phases.update(phases=["examples", "fuzzing"])
    if include:
        schema = schema.include(path_regex=include)
    return schema


NFM = _load("TS29510_Nnrf_NFManagement.yaml")
DISC = _load("TS29510_Nnrf_NFDiscovery.yaml", r"^/nf-instances$")
UEAU = _load("TS29503_Nudm_UEAU.yaml", r"generate-auth-data|auth-events$")
SDM = _load("TS29503_Nudm_SDM.yaml", r"/(am-data|nssai|smf-select-data|sm-data|ue-context-in-smf-data|sdm-subscriptions(/\{subscriptionId\})?)$")
UECM = _load("TS29503_Nudm_UECM.yaml", r"/registrations/(amf-3gpp-access|smf-registrations(/\{pduSessionId\})?)$")

CHECKS = [no_server_error, response_schema_conformance]
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@NFM.parametrize()
@SETTINGS
def test_nrf_nfmanagement(core, case):
    case.call_and_validate(base_url=core.uri("nrf") + "/nnrf-nfm/v1", checks=CHECKS, timeout=10)


@DISC.parametrize()
@SETTINGS
def test_nrf_nfdiscovery(core, case):
    case.call_and_validate(base_url=core.uri("nrf") + "/nnrf-disc/v1", checks=CHECKS, timeout=10)


@UEAU.parametrize()
@SETTINGS
def test_udm_ueau(core, case):
    case.call_and_validate(base_url=core.uri("udm") + "/nudm-ueau/v1", checks=CHECKS, timeout=10)


@SDM.parametrize()
@SETTINGS
def test_udm_sdm(core, case):
    case.call_and_validate(base_url=core.uri("udm") + "/nudm-sdm/v2", checks=CHECKS, timeout=10)


@UECM.parametrize()
@SETTINGS
def test_udm_uecm(core, case):
    case.call_and_validate(base_url=core.uri("udm") + "/nudm-uecm/v1", checks=CHECKS, timeout=10)
