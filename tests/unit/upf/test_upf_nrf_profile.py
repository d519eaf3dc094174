"""The UPF's NFProfile (TS 29.510 §6.1.6.2.2) with its UpfInfo (§6.1.6.2.13), checked against
the 3GPP OpenAPI schema read from ../shared/3gpp-openapi at test time."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.errors import ConfigError
from fivecore.nf.upf.config import UpfConfig, load_upf_config
from fivecore.nf.upf.nrf import UpfNrfAgent, n4_address, upf_info, upf_instance_id, upf_profile
from fivecore.wire.sbi import NFProfile
from fivecore.wire.sbi.schema import OpenApiValidator

SPEC = Path(__file__).resolve().parents[3] / ".." / "shared" / "3gpp-openapi"
NFM = "TS29510_Nnrf_NFManagement.yaml"


@pytest.fixture(scope="module")
def validator() -> OpenApiValidator:
    return OpenApiValidator(SPEC)


def _cfg(**kw: object) -> UpfConfig:
    return load_upf_config(data={"upf": kw})


def test_default_profile_is_schema_valid_and_says_what_the_upf_serves(validator: OpenApiValidator) -> None:
    cfg = _cfg(pfcp_address="127.0.0.7", gtpu_address="127.0.0.8", subnet="10.45.0.0/16")
    prof = upf_profile(cfg, mcc="999", mnc="70", heartbeat_timer=7)
    assert validator.schema_errors(NFM, "NFProfile", prof) == []
    NFProfile.model_validate(prof)  # what the NRF validates a registration with
    assert prof["nfType"] == "UPF" and prof["nfStatus"] == "REGISTERED" and prof["heartBeatTimer"] == 7
    assert prof["plmnList"] == [{"mcc": "999", "mnc": "70"}]
    assert prof["ipv4Addresses"] == ["127.0.0.7"]  # N4: what an SMF associates with
    assert prof["sNssais"] == [{"sst": 1}]
    assert "nfServiceList" not in prof and "nfServices" not in prof
    info = prof["upfInfo"]
    assert info["sNssaiUpfInfoList"] == [
        {"sNssai": {"sst": 1}, "dnnUpfInfoList": [{"dnn": "internet", "pduSessionTypes": ["IPV4", "IPV6", "IPV4V6"]}]}]
    assert info["interfaceUpfInfoList"] == [
        {"interfaceType": "N3", "ipv4EndpointAddresses": ["127.0.0.8"]},
        {"interfaceType": "N6", "ipv4EndpointAddresses": ["10.45.0.1"]},
    ]
    assert info["pduSessionTypes"] == ["IPV4", "IPV6", "IPV4V6"] and "atsssCapability" not in info


def test_slices_merge_per_snssai_and_sd_is_kept(validator: OpenApiValidator) -> None:
    cfg = _cfg(slices=[{"sst": 1, "dnns": ["internet", "ims"]}, {"sst": 2, "sd": "00000A", "dnns": ["iot"]},
                       {"sst": 1, "dnns": ["internet", "corp"]}],
               gateway="10.45.0.254", vendor_id="123456")
    prof = upf_profile(cfg)
    assert validator.schema_errors(NFM, "NFProfile", prof) == []
    items = prof["upfInfo"]["sNssaiUpfInfoList"]
    assert [(i["sNssai"], [d["dnn"] for d in i["dnnUpfInfoList"]]) for i in items] == [
        ({"sst": 1}, ["internet", "ims", "corp"]), ({"sst": 2, "sd": "00000a"}, ["iot"])]
    assert prof["sNssais"] == [{"sst": 1}, {"sst": 2, "sd": "00000a"}]
    assert prof["upfInfo"]["interfaceUpfInfoList"][1]["ipv4EndpointAddresses"] == ["10.45.0.254"]
    assert prof["vendorId"] == "123456"


def test_the_schema_check_catches_a_broken_upf_info(validator: OpenApiValidator) -> None:
    """The validator is not a rubber stamp: the mandatory parts of UpfInfo are enforced."""
    prof = upf_profile(_cfg())
    broken = copy.deepcopy(prof)
    del broken["upfInfo"]["sNssaiUpfInfoList"]
    assert validator.schema_errors(NFM, "NFProfile", broken)
    broken = copy.deepcopy(prof)
    broken["upfInfo"]["sNssaiUpfInfoList"][0]["dnnUpfInfoList"] = []
    assert validator.schema_errors(NFM, "NFProfile", broken)
    broken = copy.deepcopy(prof)
    del broken["upfInfo"]["interfaceUpfInfoList"][0]["ipv4EndpointAddresses"]
    assert validator.schema_errors(NFM, "NFProfile", broken)


def test_instance_id_is_stable_per_upf_and_configurable() -> None:
    a = _cfg(pfcp_address="127.0.3.7")
    assert upf_instance_id(a) == upf_instance_id(_cfg(pfcp_address="127.0.3.7"))  # a restart
    assert uuid.UUID(upf_instance_id(a)).version == 5
    assert upf_instance_id(a) != upf_instance_id(_cfg(pfcp_address="127.0.4.7"))
    assert upf_instance_id(a) != upf_instance_id(_cfg(pfcp_address="127.0.3.7", pfcp_port=8806))
    fixed = "C0C0C0C0-0000-4000-8000-0000000000AB"
    assert upf_instance_id(_cfg(nf_instance_id=fixed)) == fixed.lower()
    assert upf_profile(_cfg(nf_instance_id=fixed))["nfInstanceId"] == fixed.lower()


def test_wildcard_bind_addresses_are_not_advertised(validator: OpenApiValidator) -> None:
    cfg = _cfg(pfcp_address="0.0.0.0", node_id="192.0.2.7", gtpu_address="0.0.0.0")
    assert n4_address(cfg) == "192.0.2.7"
    prof = upf_profile(cfg)
    assert prof["ipv4Addresses"] == ["192.0.2.7"]
    assert upf_info(cfg)["interfaceUpfInfoList"][0]["ipv4EndpointAddresses"] == ["192.0.2.7"]
    assert validator.schema_errors(NFM, "NFProfile", prof) == []


@pytest.mark.parametrize("section, key", [
    ({"slices": [{"sst": 1, "sd": "xyz"}]}, "upf.slices.0.sd"),
    ({"slices": [{"sst": 256}]}, "upf.slices.0.sst"),
    ({"slices": [{"sst": 1, "dnns": []}]}, "upf.slices.0.dnns"),
    ({"slices": [{"sst": 1, "dnns": ["in ternet"]}]}, "upf.slices.0.dnns"),
    ({"slices": []}, "upf.slices"),
    ({"nf_instance_id": "not-a-uuid"}, "upf.nf_instance_id"),
    ({"vendor_id": "12"}, "upf.vendor_id"),
    ({"vendor_id": "123456\n"}, "upf.vendor_id"),  # the whole value, not a line of it
    ({"nf_instance_id": "c0c0c0c0-0000-4000-8000-0000000000ab\n"}, "upf.nf_instance_id"),
    ({"nrf": "x"}, "upf.nrf"),
    ({"nrf_uri": "127.0.0.10:7777"}, "upf.nrf_uri"),
    ({"nrf_uri": "http://"}, "upf.nrf_uri"),
])
def test_bad_registration_settings_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_upf_config(data={"upf": section})


def test_nrf_uri_defaults_to_the_nrf_every_nf_uses_and_can_be_turned_off() -> None:
    from fivecore.config import DEFAULT_NRF_URI, load_config

    assert _cfg().nrf_uri == DEFAULT_NRF_URI
    assert _cfg(nrf_uri=None).nrf_uri is None
    # the whole configuration file takes the same section
    assert load_config({"upf": {"nrf_uri": "http://127.0.0.99:7777"}}).upf.nrf_uri == "http://127.0.0.99:7777"


def test_agent_registers_the_upf_profile_through_the_common_nf_plumbing() -> None:
    """No I/O: the agent is built, not started; its profile is the builder's, its identity
    the UPF's, and it serves nothing on the SBI."""
    cfg = _cfg(pfcp_address="127.0.9.7", nrf_uri="http://127.0.9.10:7777")
    agent = UpfNrfAgent(cfg, mcc="001", mnc="01")
    assert agent.nf_type == "UPF" and agent.instance_id == upf_instance_id(cfg)
    assert agent.client.nrf_uri == "http://127.0.9.10:7777"
    assert agent.profile() == upf_profile(cfg, instance_id=agent.instance_id, heartbeat_timer=agent.heartbeat_timer)


_dnn = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=20)
_slice = st.fixed_dictionaries(
    {"sst": st.integers(0, 255), "dnns": st.lists(_dnn, min_size=1, max_size=3)},
    optional={"sd": st.text(alphabet="0123456789abcdefABCDEF", min_size=6, max_size=6)})
_octet = st.integers(1, 254)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(slices=st.lists(_slice, min_size=1, max_size=4), a=_octet, b=_octet, prefix=st.integers(8, 30))
def test_any_valid_config_gives_a_schema_valid_profile(validator: OpenApiValidator, slices: list[dict[str, object]],
                                                       a: int, b: int, prefix: int) -> None:
    cfg = _cfg(slices=slices, pfcp_address=f"127.{a}.{b}.7", gtpu_address=f"10.{a}.{b}.1",
               subnet=f"10.{a}.0.0/{prefix}")
    prof = upf_profile(cfg)
    assert validator.schema_errors(NFM, "NFProfile", prof) == []
    NFProfile.model_validate(prof)
    advertised = {(i["sNssai"]["sst"], i["sNssai"].get("sd"), d["dnn"])
                  for i in prof["upfInfo"]["sNssaiUpfInfoList"] for d in i["dnnUpfInfoList"]}
    wanted = {(s["sst"], str(s["sd"]).lower() if "sd" in s else None, d) for s in slices for d in s["dnns"]}
    assert advertised == wanted


def test_n6_advertises_its_ipv6_addresses(validator: OpenApiValidator) -> None:
    """TS 29.510 §6.1.6.2.21 InterfaceUpfInfoItem: with ``upf.ipv6_subnet`` the N6 interface
    names the TUN's IPv6 addresses too."""
    prof = upf_profile(_cfg(ipv6_subnet=["2001:db8:cafe::/48"]))
    assert validator.schema_errors(NFM, "NFProfile", prof) == []
    n6 = prof["upfInfo"]["interfaceUpfInfoList"][1]
    assert n6["interfaceType"] == "N6" and n6["ipv6EndpointAddresses"] == ["2001:db8:cafe::1"]
