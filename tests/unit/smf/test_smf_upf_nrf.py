"""UPF selection through the NRF (``smf.upf_selection: nrf``, TS 23.501 §6.3.3.3): profiles to
N4 peers, and NFDiscovery against the NRF's real router through the in-process binding."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.config import load_config
from fivecore.nf.common.client import LocalRegistry, SbiClient
from fivecore.nf.nrf.context import NrfContext
from fivecore.nf.nrf.sbi import build_router
from fivecore.nf.smf.pfcp import N4, UpfPeer
from fivecore.nf.smf.upf_nrf import UpfDiscovery, n4_address, peer_for, served
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_profile


def _upf(addr: str, slices: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return upf_profile(load_upf_config(data={"upf": {"pfcp_address": addr, "slices": slices, **kw}}))


def test_a_upf_profile_becomes_a_peer_serving_what_it_advertises() -> None:
    prof = _upf("127.0.5.7", [{"sst": 1, "dnns": ["internet", "ims"]}, {"sst": 2, "sd": "0000aa", "dnns": ["iot"]}])
    peer = peer_for(prof, "ims", (1, None))
    assert peer is not None
    assert peer.addr == ("127.0.5.7", 8805)  # N4 from ipv4Addresses, PFCP's port (TS 29.244 §4.2.2)
    assert peer.serves("internet", (1, None)) and peer.serves("ims", (1, 5))  # sst-only slice: any SD
    assert peer.serves("iot", (2, 0xAA))
    assert peer_for(prof, "iot", (2, 0xAB)) is None       # another SD
    assert peer_for(prof, "corp", (1, None)) is None      # a DNN it does not advertise
    assert served(prof) == {(1, None): {"internet", "ims"}, (2, 0xAA): {"iot"}}


def test_profiles_without_upf_info_or_n4_address() -> None:
    bare = {"nfInstanceId": "x", "nfType": "UPF", "nfStatus": "REGISTERED", "ipv4Addresses": ["127.0.5.9"]}
    peer = peer_for(bare, "internet", (1, None))  # no UpfInfo: serves any slice and DNN
    assert peer is not None and peer.serves("internet", (1, None)) and peer.address == "127.0.5.9"
    assert peer_for({**bare, "ipv4Addresses": ["fe80::1"]}, "internet", (1, None)) is None
    assert peer_for({"fqdn": "upf.example"}, "internet", (1, None)) is None
    assert n4_address({"ipv4Addresses": ["junk", "127.0.5.10"]}) == "127.0.5.10"
    listed = {**bare, "upfInfoList": {"a": {"sNssaiUpfInfoList": [
        {"sNssai": {"sst": 3}, "dnnUpfInfoList": [{"dnn": "*"}]}]}}}
    assert peer_for(listed, "anything", (3, None)) is not None
    assert peer_for(listed, "anything", (1, None)) is None
    odd_sd = {**bare, "upfInfo": {"sNssaiUpfInfoList": [
        {"sNssai": {"sst": 1, "sd": sd}, "dnnUpfInfoList": [{"dnn": "internet"}]} for sd in (" 0000a", "+0000a", "0000aa")]}}
    assert served(odd_sd) == {(1, 0xAA): {"internet"}}


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 300) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                     max_leaves=20)
_keys = st.sampled_from(["upfInfo", "upfInfoList", "ipv4Addresses", "sNssaiUpfInfoList", "sNssai", "sst", "sd",
                         "dnnUpfInfoList", "dnn"])


@settings(max_examples=300, deadline=None)
@given(profile=st.dictionaries(_keys | st.text(max_size=6), _json, max_size=6), dnn=st.text(max_size=5),
       sst=st.integers(0, 255), sd=st.none() | st.integers(0, 0xFFFFFF))
def test_hostile_profiles_never_raise(profile: dict[str, Any], dnn: str, sst: int, sd: int | None) -> None:
    """A discovery answer is peer input: whatever it holds, the SMF gets a peer or None."""
    served(profile)
    peer = peer_for(profile, dnn, (sst, sd))
    assert peer is None or isinstance(peer, UpfPeer)


def _nrf() -> tuple[NrfContext, LocalRegistry]:
    ctx = NrfContext(heartbeat_timer=10, validity_period=60)
    local = LocalRegistry()
    local.register(["nnrf-nfm", "nnrf-disc"], build_router(ctx, lambda _notes: None))
    return ctx, local


async def test_discovery_adds_matching_upfs_to_n4_once() -> None:
    ctx, local = _nrf()
    a = _upf("127.0.5.7", [{"sst": 1, "dnns": ["internet"]}])
    b = _upf("127.0.5.8", [{"sst": 1, "dnns": ["ims"]}])
    c = _upf("127.0.5.9", [{"sst": 2, "dnns": ["internet"]}])
    for p in (a, b, c):
        ctx.register(p["nfInstanceId"], p)
    client = SbiClient("SMF", "c0c0c0c0-0000-4000-8000-000000000001", local=local)
    n4 = N4("127.0.5.4", 0, [])
    disc = UpfDiscovery(client, n4, [("internet", (1, None))])
    found = await disc.find("internet", (1, None))
    # the NRF filtered on the slice (sNssais), the SMF on the DNN (upfInfo)
    assert [p.address for p in found] == ["127.0.5.7"]
    assert [p.address for p in n4.peers] == ["127.0.5.7"]
    again = await disc.find("internet", (1, None))
    assert again[0] is n4.peers[0] and len(n4.peers) == 1  # known: not added twice
    await disc.find("internet", (2, None))
    assert [p.address for p in n4.peers] == ["127.0.5.7", "127.0.5.9"]
    assert await disc.find("corp", (1, None)) == []


async def test_no_nrf_means_no_upf_not_an_exception() -> None:
    client = SbiClient("SMF", "c0c0c0c0-0000-4000-8000-000000000001", local=LocalRegistry())
    n4 = N4("127.0.5.4", 0, [])
    disc = UpfDiscovery(client, n4, [])
    await disc.find_quietly("internet", (1, None))
    assert n4.peers == []


@pytest.mark.parametrize("mode", ["config", "nrf"])
def test_smf_upf_selection_switch(mode: str) -> None:
    from fivecore.nf.smf.app import SmfApp

    cfg = load_config({"smf": {"upf_selection": mode, "upfs": [{"address": "127.0.5.7"}]}})
    app = SmfApp(cfg)
    if mode == "config":
        assert [p.address for p in app.peers] == ["127.0.5.7"] and app.upf_discovery is None
        assert app.service.upf_finder is None
    else:
        assert app.peers == [] and app.n4.peers is app.peers
        assert app.upf_discovery is not None and app.upf_discovery.wanted == [("internet", (1, None))]
        assert app.service.upf_finder is not None


def test_default_is_config() -> None:
    assert load_config({}).smf.upf_selection == "config"
    with pytest.raises(Exception, match="upf_selection"):
        load_config({"smf": {"upf_selection": "dns"}})
