"""The simulator's UE NAS (fivecore.ran.ue) and its UERANSIM-style configuration, sans-I/O."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.errors import ConfigError
from fivecore.ran import nas_io
from fivecore.ran.config import load_ran_config, parse_ue
from fivecore.ran.ue import Ue, UeProfile, UeState
from fivecore.ran.usim import Usim
from fivecore.security import suci
from fivecore.wire.nas import codec

UERANSIM_UE = """
supi: 'imsi-001010000000001'
mcc: '001'
mnc: '01'
protectionScheme: 1
homeNetworkPublicKey: '5a8d38864820197c3394b92613b20b91633cbd897119273bf8e4a6f4eec0a650'
homeNetworkPublicKeyId: 1
routingIndicator: '0000'
key: '465B5CE8B199B49FAA5F0A2EE238A6BC'
op: 'E8ED289DEBA952E4283B54E88E6183CA'
opType: 'OPC'
amf: '8000'
imei: '356938035643803'
imeiSv: '4370816125816151'
gnbSearchList: [127.0.0.1]
uacAic: {mps: false, mcs: false}
uacAcc: {normalClass: 0, class11: false}
sessions:
  - type: 'IPv4'
    apn: 'internet'
    slice: {sst: 1}
configured-nssai:
  - sst: 1
default-nssai:
  - sst: 1
    sd: 1
integrity: {IA1: true, IA2: true, IA3: true}
ciphering: {EA1: true, EA2: true, EA3: true}
integrityMaxRate: {uplink: 'full', downlink: 'full'}
"""


def test_ueransim_ue_file_loads(tmp_path) -> None:
    p = tmp_path / "ue.yaml"
    p.write_text(UERANSIM_UE)
    cfg = load_ran_config(p)
    (t,) = cfg.ues
    assert t.imsi == "001010000000001" and t.mcc == "001" and t.mnc == "01"
    assert t.protection_scheme == 1 and 1 in t.hn_public_keys
    assert t.profile.slices == ((1, 1),)
    assert t.profile.nia == (1, 2, 3) and t.profile.nea == (0, 1, 2, 3)
    assert t.profile.dnn == "internet"
    u0, u9 = t.usim(0), t.usim(9)
    assert u0.imsi == "001010000000001" and u9.imsi == "001010000000010"
    assert u0.opc == bytes.fromhex("E8ED289DEBA952E4283B54E88E6183CA")


def test_scheme_cycle_and_op_type() -> None:
    _, a_pub = suci.generate_hn_keypair(1)
    _, b_pub = suci.generate_hn_keypair(2)
    t = parse_ue({"supi": "imsi-001010000000001", "opType": "OP", "op": "00" * 16, "protectionScheme": 1,
                  "homeNetworkPublicKey": a_pub.hex(), "homeNetworkPublicKeyId": 1,
                  "homeNetworkPublicKeys": [{"id": 2, "key": b_pub.hex()}], "protectionSchemeCycle": [0, 1, 2]})
    schemes = [t.usim(i).protection_scheme for i in range(6)]
    assert schemes == [0, 1, 2, 0, 1, 2]
    assert t.usim(2).hn_key_id == 2 and t.usim(1).hn_key_id == 1
    assert t.op is not None and t.opc is None


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"supi": "imsi-12"}, "ue.supi"),
        ({"key": "zz"}, "ue.key"),
        ({"opType": "XYZ"}, "ue.opType"),
        ({"protectionScheme": 7}, "ue.protectionScheme"),
        ({"protectionScheme": 1}, "ue.homeNetworkPublicKey"),
        ({"integrity": {"IB1": True}}, "ue.integrity"),
    ],
)
def test_bad_ue_config_names_the_key(bad: dict, where: str) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_ran_config({"ue": bad})


def test_gnb_extra_addresses_reach_every_gnb_connection() -> None:
    """``gnb.extraAddresses``: N2 multi-homing (RFC 9260 §6.4), the same for each gNB and AMF."""
    from fivecore.ran.app import RanSim

    cfg = load_ran_config({"gnb": {"localAddress": "127.0.1.1", "extraAddresses": ["127.0.2.1"],
                                   "amfs": [{"address": "127.0.0.5"}, {"address": "127.0.10.5"}]}})
    assert cfg.gnb.extra_addresses == ("127.0.2.1",)
    sim = RanSim(cfg, n_gnbs=2, n_ues=0)
    conns = sim.gnbs  # one N2 link per (gNB, AMF)
    assert len(conns) == 4 and all(g.cfg.local_addresses == ("127.0.2.1",) and g.cfg.local_host == "127.0.1.1" for g in conns)
    assert load_ran_config({"gnb": {}}).gnb.extra_addresses == ()
    for bad in (["::1"], ["not-an-ip"], "127.0.2.1", [f"127.0.2.{i}" for i in range(8)]):
        with pytest.raises(ConfigError, match="gnb.extraAddresses"):
            load_ran_config({"gnb": {"extraAddresses": bad}})


def test_bad_gnb_key() -> None:
    with pytest.raises(ConfigError, match="gnb.foo"):
        load_ran_config({"gnb": {"foo": 1}})


def make_ue(**kw) -> Ue:
    usim = Usim("001010000000001", bytes(16), opc=bytes(range(16)))
    return Ue(usim, UeProfile(**kw))


def test_initial_message_carries_only_cleartext_ies() -> None:
    ue = make_ue()
    pdu = ue.register()
    msg = codec.decode(pdu)
    assert msg.message_type == "RegistrationRequest"
    assert msg.requested_nssai is None, "requested NSSAI is not a cleartext IE (TS 24.501 §4.4.6)"
    assert msg.mobile_identity.type == "suci"
    full = codec.decode(ue.full_request)
    assert [(s.sst, s.sd) for s in full.requested_nssai] == [(1, None)]
    assert ue.state == UeState.REGISTERED_INITIATED


def test_downlink_that_must_be_protected_is_dropped() -> None:
    ue = make_ue()
    ue.stats = {}
    ue.register()
    from fivecore.nf.amf import nas_io as amf_nas
    from fivecore.nf.amf.nas_io import Guti

    accept = amf_nas.registration_accept(guti=Guti("001", "01", 2, 1, 0, 5), tais=[("001", "01", 1)],
                                         allowed_nssai=[(1, None)], t3512=60)
    ue.sec = object()  # pretend a context exists: a plain Registration Accept must be ignored
    assert ue.on_downlink(accept) == []
    assert ue.stats["dl_unprotected_dropped"] == 1
    assert ue.state == UeState.REGISTERED_INITIATED


def test_smc_with_unknown_ngksi_is_rejected() -> None:
    from fivecore.nf.amf import nas_io as amf_nas
    from fivecore.wire.nas.ies import UeSecurityCapability

    ue = make_ue()
    ue.register()
    ctx = amf_nas.new_security_context(bytes(32), 3, 2, 2)
    smc = amf_nas.security_mode_command(2, 2, 3, UeSecurityCapability.of(nea=(0, 1, 2, 3), nia=(1, 2, 3)), rinmr=True)
    (answer,) = ue.on_downlink(amf_nas.protect(ctx, smc, new_context=True))
    assert codec.decode(answer).message_type == "SecurityModeReject"
    assert ue.sec is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_downlink_never_raises(data: bytes) -> None:
    ue = make_ue()
    ue.register()
    ue.on_downlink(data)
    ue.on_downlink(b"\x7e\x00" + data)
    ue.on_downlink(b"\x7e\x03" + data)
    ue.on_downlink(b"\x7e\x02" + data)


def test_nas_io_rejects_non_5gmm() -> None:
    with pytest.raises(nas_io.NasInvalid):
        nas_io.split_security_header(b"\x2e\x01\x02")
