"""NFDiscovery of UPFs by ``dnn`` (TS 29.510 Table 6.2.3.2.3.1-1: "Dnn supported by the BSF, SMF
or UPF"): a UPF matches only through ``upfInfo.sNssaiUpfInfoList[].dnnUpfInfoList[].dnn``.
The UPF profiles are the ones a real UPF registers (``fivecore.nf.upf.nrf.upf_profile``)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.nrf.context import NrfContext, _dnn_match
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_profile


@pytest.fixture()
def nrf() -> NrfContext:
    return NrfContext(heartbeat_timer=10, clock=lambda: 1000.0, nrf_uri="http://nrf")


def _upf(nrf: NrfContext, address: str, slices: list[dict[str, Any]]) -> str:
    cfg = load_upf_config(data={"upf": {"pfcp_address": address, "gtpu_address": address, "slices": slices}})
    prof = upf_profile(cfg, instance_id=str(uuid.uuid4()))
    created, _, _ = nrf.register(prof["nfInstanceId"], prof)
    assert created
    return prof["nfInstanceId"]


def _find(nrf: NrfContext, **extra: str) -> set[str]:
    query = {"target-nf-type": ["UPF"], "requester-nf-type": ["SMF"], **{k: [v] for k, v in extra.items()}}
    return {p["nfInstanceId"] for p in nrf.discover(query)}


def test_dnn_selects_only_upfs_that_advertise_it(nrf: NrfContext) -> None:
    internet = _upf(nrf, "127.0.5.1", [{"sst": 1, "dnns": ["internet"]}])
    ims = _upf(nrf, "127.0.5.2", [{"sst": 1, "dnns": ["ims"]}])
    both = _upf(nrf, "127.0.5.3", [{"sst": 1, "dnns": ["internet"]}, {"sst": 2, "sd": "0000aa", "dnns": ["ims", "iot"]}])
    assert _find(nrf) == {internet, ims, both}
    assert _find(nrf, dnn="internet") == {internet, both}
    assert _find(nrf, dnn="ims") == {ims, both}
    assert _find(nrf, dnn="iot") == {both}
    assert _find(nrf, dnn="corp") == set()


def test_dnn_is_matched_within_the_queried_slice(nrf: NrfContext) -> None:
    a = _upf(nrf, "127.0.5.1", [{"sst": 1, "dnns": ["internet"]}, {"sst": 2, "sd": "0000aa", "dnns": ["ims"]}])
    b = _upf(nrf, "127.0.5.2", [{"sst": 1, "dnns": ["ims"]}])
    sst1 = json.dumps([{"sst": 1}])
    sst2 = json.dumps([{"sst": 2, "sd": "0000AA"}])
    assert _find(nrf, dnn="ims", snssais=sst1) == {b}  # a serves ims, but only in sst 2
    assert _find(nrf, dnn="ims", snssais=sst2) == {a}
    assert _find(nrf, dnn="internet", snssais=sst2) == set()
    assert _find(nrf, dnn="internet", snssais=sst1) == {a}


def test_upf_without_upfinfo_is_not_found_by_dnn(nrf: NrfContext) -> None:
    bare = {"nfInstanceId": str(uuid.uuid4()), "nfType": "UPF", "nfStatus": "REGISTERED",
            "ipv4Addresses": ["127.0.5.9"]}
    nrf.register(bare["nfInstanceId"], bare)
    assert _find(nrf) == {bare["nfInstanceId"]}
    assert _find(nrf, dnn="internet") == set()


def test_dnn_does_not_restrict_other_nf_types(nrf: NrfContext) -> None:
    amf = {"nfInstanceId": str(uuid.uuid4()), "nfType": "AMF", "nfStatus": "REGISTERED",
           "ipv4Addresses": ["127.0.0.5"]}
    nrf.register(amf["nfInstanceId"], amf)
    query = {"target-nf-type": ["AMF"], "requester-nf-type": ["SMF"], "dnn": ["internet"]}
    assert [p["nfInstanceId"] for p in nrf.discover(query)] == [amf["nfInstanceId"]]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                     max_leaves=12)
_keys = st.sampled_from(["sNssaiUpfInfoList", "sNssai", "dnnUpfInfoList", "dnn", "sst", "sd"])


@settings(max_examples=300, deadline=None)
@given(info=_json | st.dictionaries(_keys, _json | st.lists(st.dictionaries(_keys, _json, max_size=3), max_size=3),
                                    max_size=3),
       dnn=st.text(max_size=5), sst=st.integers(0, 255))
def test_hostile_upfinfo_never_raises(info: Any, dnn: str, sst: int) -> None:
    """Whatever a profile holds as ``upfInfo``, the filter answers yes or no."""
    assert _dnn_match({"nfType": "UPF", "upfInfo": info}, dnn, [{"sst": sst}]) in (True, False)
    assert _dnn_match({"nfType": "UPF", "upfInfo": info}, dnn) in (True, False)
