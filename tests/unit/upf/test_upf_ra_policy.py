"""Which link MTU and DNS servers a session's Router Advertisement carries (fivecore.nf.upf.ndp):
per DNN, the DNN found from the Network Instance the SMF's own rule builder puts in the PDRs
(TS 29.244 §8.2.4), sent over N4 as octets into the UPF's PFCP node. No I/O."""

from __future__ import annotations

import ipaddress

import pytest

from fivecore.errors import ConfigError
from fivecore.nf.smf import gsm
from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import Ipv6PrefixPool, SmfContext
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.ndp import N3_OVERHEAD, RaOptions, RaPolicy, ra_mtu_for_n3
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import pfcp

PEER = ("127.0.0.4", 8805)


def _session(dnn: str) -> object:
    """A UPF session made from the SMF's Session Establishment Request for an IPv6 session."""
    ctx = UpfContext("127.0.0.7", 2152)
    node = PfcpNode(ctx, "127.0.0.7")
    assoc = pfcp.PfcpMessage.build("AssociationSetupRequest", seq=1, node_id=pfcp.NodeId.ipv4(PEER[0]),
                                   recovery_time_stamp=pfcp.ntp_now())
    node.datagram_received(pfcp.encode(assoc), PEER, 0.0)
    sm = SmfContext().new("imsi-001010000000001", 1, dnn, {"sst": 1})
    sm.pdu_type = gsm.PDU_IPV6
    sm.ue_ipv6_prefix = Ipv6PrefixPool("2001:db8:cafe::/48").allocate()
    sm.ambr_ul = sm.ambr_dl = 10_000_000
    sm.local_seid = 9
    req = pfcp.encode(smf_pfcp.session_establishment(sm, seq=2, node_id=PEER[0], cp_ip=PEER[0]))
    rsp = pfcp.decode(node.datagram_received(req, PEER, 0.0)[0][0])
    assert rsp.cause == pfcp.CAUSE_ACCEPTED
    (session,) = ctx.sessions.values()
    return session


def test_mtu_from_the_n3_mtu() -> None:
    # IPv4 20 + UDP 8 + GTP-U 8 + 4 + PDU Session Container 4
    assert N3_OVERHEAD == 44
    assert ra_mtu_for_n3(1500) == 1456
    assert ra_mtu_for_n3(9000) == 8956
    assert ra_mtu_for_n3(1300) == 1280  # never below IPv6's minimum link MTU
    assert RaPolicy().for_session(object()) == RaOptions(1456, ())


def test_per_dnn_options_follow_the_network_instance() -> None:
    cfg = load_upf_config(data={"upf": {"n3_mtu": 9000, "ipv6_ra": [
        {"dnn": "internet", "mtu": 1400, "dns": ["2001:4860:4860::8888", "2001:4860:4860:0::8844"]},
        {"dnn": "ims"}]}})
    policy = cfg.ra_policy()
    internet = policy.for_session(_session("internet"))
    assert internet.mtu == 1400
    assert [str(ipaddress.IPv6Address(a)) for a in internet.dns] == ["2001:4860:4860::8888", "2001:4860:4860::8844"]
    # a DNN without an MTU of its own gets the N3-derived one; an unlisted DNN the default
    assert policy.for_session(_session("ims")) == RaOptions(8956, ())
    assert policy.for_session(_session("other")) == RaOptions(8956, ())


@pytest.mark.parametrize("bad", [
    {"ipv6_ra": [{"dnn": "internet", "dns": ["8.8.8.8"]}]},
    {"ipv6_ra": [{"dnn": "internet", "dns": ["ff02::1"]}]},
    {"ipv6_ra": [{"dnn": "internet", "dns": ["::"]}]},
    {"ipv6_ra": [{"dnn": "internet", "mtu": 1279}]},
    {"ipv6_ra": [{"dnn": "internet"}, {"dnn": "internet"}]},
    {"ipv6_ra": [{"dnn": "internet", "bogus": 1}]},
    {"n3_mtu": 1000},
])
def test_bad_settings_are_one_config_error(bad: dict) -> None:
    with pytest.raises(ConfigError, match=r"^upf\."):
        load_upf_config(data={"upf": bad})
