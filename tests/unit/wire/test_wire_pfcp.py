"""PFCP codec (TS 29.244): messages, grouped IEs, typed IEs, malformed input."""

from __future__ import annotations

import pytest

from fivecore.wire import DecodeError, EncodeError, pfcp
from fivecore.wire.pfcp import FSeid, FTeid, Ies, NodeId


def _establishment() -> pfcp.PfcpMessage:
    return pfcp.PfcpMessage.build(
        "SessionEstablishmentRequest", seq=7, seid=0,
        node_id=NodeId.ipv4("127.0.0.4"), f_seid=FSeid(0x1122334455667788, "127.0.0.4"),
        create_pdr=[
            Ies(pdr_id=1, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=FTeid.choose(choose_id=1),
                        network_instance="internet", qfi=1, tgpp_interface_type=pfcp.IFTYPE_N3_3GPP),
                outer_header_removal=pfcp.OuterHeaderRemoval(0, 1), far_id=1, qer_id=1, urr_id=1),
            Ies(pdr_id=2, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_CORE, network_instance="internet",
                        ue_ip_address=pfcp.UeIpAddress(ipv4="10.45.0.2", destination=True),
                        tgpp_interface_type=pfcp.IFTYPE_N6),
                far_id=2, qer_id=1)],
        create_far=[
            Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE,
                                          network_instance="internet")),
            Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                forwarding_parameters=Ies(
                    destination_interface=pfcp.IF_ACCESS,
                    outer_header_creation=pfcp.OuterHeaderCreation.gtpu(0x100, "127.0.0.1"),
                    tgpp_interface_type=pfcp.IFTYPE_N3_3GPP))],
        create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(),
                        mbr=pfcp.Bitrate(1_000_000, 2_000_000), gbr=pfcp.Bitrate(0, 0), qfi=1)],
        create_urr=[Ies(urr_id=1, measurement_method=pfcp.MEASURE_VOLUM,
                        reporting_triggers=pfcp.TRIGGER_VOLTH,
                        volume_threshold=pfcp.Volume(total=10**9))],
        pdn_type=1)


def _messages() -> list[pfcp.PfcpMessage]:
    ts = 3_900_000_000
    return [
        pfcp.PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=ts),
        pfcp.PfcpMessage.build("HeartbeatResponse", seq=1, recovery_time_stamp=ts),
        pfcp.PfcpMessage.build("AssociationSetupRequest", seq=2, node_id=NodeId.ipv4("127.0.0.4"),
                               recovery_time_stamp=ts, cp_function_features=0),
        pfcp.PfcpMessage.build("AssociationSetupResponse", seq=2, node_id=NodeId.fqdn("upf.example.org"),
                               cause=pfcp.CAUSE_ACCEPTED, recovery_time_stamp=ts,
                               up_function_features=pfcp.Flags(0x0100, 2)),
        pfcp.PfcpMessage.build("AssociationReleaseRequest", seq=3, node_id=NodeId.ipv4("127.0.0.4")),
        pfcp.PfcpMessage.build("AssociationReleaseResponse", seq=3, node_id=NodeId(1, "::1"),
                               cause=pfcp.CAUSE_ACCEPTED),
        _establishment(),
        pfcp.PfcpMessage.build(
            "SessionEstablishmentResponse", seq=7, seid=0x1122334455667788,
            node_id=NodeId.ipv4("127.0.0.7"), cause=pfcp.CAUSE_ACCEPTED, f_seid=FSeid(9, "127.0.0.7"),
            created_pdr=[Ies(pdr_id=1, f_teid=FTeid(0xABCD, "127.0.0.7"))]),
        pfcp.PfcpMessage.build(
            "SessionModificationRequest", seq=8, seid=9,
            update_far=[Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                            update_forwarding_parameters=Ies(
                                outer_header_creation=pfcp.OuterHeaderCreation.gtpu(0x200, "127.0.0.1")))],
            remove_pdr=[Ies(pdr_id=3)], remove_far=[Ies(far_id=3)], remove_qer=[Ies(qer_id=3)],
            remove_urr=[Ies(urr_id=3)],
            update_pdr=[Ies(pdr_id=1, pdi=Ies(source_interface=0, f_teid=FTeid(1, ipv6="2001:db8::7")))],
            update_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(1, 1))],
            update_urr=[Ies(urr_id=1, volume_threshold=pfcp.Volume(ul=1, dl=2))]),
        pfcp.PfcpMessage.build("SessionModificationResponse", seq=8, seid=1, cause=pfcp.CAUSE_ACCEPTED),
        pfcp.PfcpMessage.build("SessionDeletionRequest", seq=9, seid=9),
        pfcp.PfcpMessage.build(
            "SessionDeletionResponse", seq=9, seid=1, cause=pfcp.CAUSE_ACCEPTED,
            usage_report_deletion=[Ies(urr_id=1, ur_seqn=0, usage_report_trigger=pfcp.Flags(0x000100, 3),
                                       volume_measurement=pfcp.Volume(1000, 400, 600, 10, 4, 6))]),
        pfcp.PfcpMessage.build(
            "SessionReportRequest", seq=10, seid=1, report_type=pfcp.REPORT_USAR,
            usage_report=[Ies(urr_id=1, ur_seqn=1, usage_report_trigger=pfcp.Flags(0x02, 3),
                              volume_measurement=pfcp.Volume(total=5), start_time=1, end_time=2)]),
        pfcp.PfcpMessage.build("SessionReportResponse", seq=10, seid=9, cause=pfcp.CAUSE_ACCEPTED),
        pfcp.PfcpMessage.build("SessionEstablishmentResponse", seq=11, seid=1,
                               node_id=NodeId.ipv4("127.0.0.7"),
                               cause=pfcp.CAUSE_MANDATORY_IE_MISSING, offending_ie=57),
    ]


@pytest.mark.parametrize("msg", _messages(), ids=lambda m: m.msg_type)
def test_round_trip(msg: pfcp.PfcpMessage) -> None:
    data = pfcp.encode(msg)
    back = pfcp.decode(data)
    assert back == msg
    assert pfcp.encode(back) == data
    assert data[1] == msg.code and int.from_bytes(data[2:4], "big") == len(data) - 4


def test_known_bytes_and_accessors() -> None:
    hb = pfcp.encode(pfcp.PfcpMessage.build("HeartbeatRequest", seq=0x010203, recovery_time_stamp=0xE8D4A510))
    assert hb.hex() == "2001000c0102030000600004e8d4a510"
    msg = pfcp.decode(pfcp.encode(_establishment()))
    assert msg.seid == 0 and msg.seq == 7
    assert msg.f_seid == FSeid(0x1122334455667788, "127.0.0.4")
    pdrs = msg.ies.all("create_pdr")
    assert [p.pdr_id for p in pdrs] == [1, 2]
    assert pdrs[0].pdi.f_teid == FTeid(ch=True, ch_v4=True, choose_id=1)
    assert pdrs[0].pdi.network_instance == "internet"
    assert pdrs[1].pdi.ue_ip_address.ipv4 == "10.45.0.2"
    far = msg.ies.all("create_far")[0]
    assert far.apply_action == pfcp.APPLY_FORW and far.apply_action.octets == 2
    assert msg.ies["create_qer"].mbr == pfcp.Bitrate(1_000_000, 2_000_000)
    assert "create_bar" not in msg.ies and msg.create_bar is None
    with pytest.raises(KeyError):
        _ = msg.ies["create_bar"]


def test_unknown_and_vendor_ies_are_kept() -> None:
    base = pfcp.encode(pfcp.PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=1))
    extra = bytes.fromhex("0fff0002abcd") + bytes.fromhex("8001000400124142") + \
        bytes.fromhex("00130002aabb")  # unknown type 4095, vendor IE, cause with 2 octets
    data = bytearray(base + extra[:14])
    data[2:4] = (len(data) - 4).to_bytes(2, "big")
    msg = pfcp.decode(bytes(data))
    raws = [v for _, v in msg.ies if isinstance(v, pfcp.RawIe)]
    assert raws == [pfcp.RawIe(4095, b"\xab\xcd"), pfcp.RawIe(0x8001, b"AB", 0x0012)]
    assert pfcp.encode(msg) == bytes(data)
    data = bytearray(base + extra)
    data[2:4] = (len(data) - 4).to_bytes(2, "big")
    with pytest.raises(DecodeError, match="cause"):
        pfcp.decode(bytes(data))


def test_typed_ie_codecs() -> None:
    from fivecore.wire.pfcp import ies
    assert ies._enc_fteid(FTeid(0x01020304, "10.0.0.1")).hex() == "01010203040a000001"
    assert ies._enc_fteid(FTeid.choose()).hex() == "05"
    assert ies._dec_fteid(bytes.fromhex("0d07")) == FTeid.choose(choose_id=7)
    both = FTeid(5, "10.0.0.1", "2001:db8::1")
    assert ies._dec_fteid(ies._enc_fteid(both)) == both
    ohc = pfcp.OuterHeaderCreation(pfcp.OHC_UDP_IPV4, ipv4="10.0.0.2", port=2152)
    assert ies._dec_ohc(ies._enc_ohc(ohc)) == ohc
    assert ies._enc_ohc(pfcp.OuterHeaderCreation.gtpu(1, "10.0.0.1")).hex() == "0100000000010a000001"
    ue = pfcp.UeIpAddress(ipv6="2001:db8::", ipv6_prefix_delegation_bits=8, ipv6_prefix_length=64)
    assert ies._dec_ueip(ies._enc_ueip(ue)) == ue
    assert ies._enc_gate(pfcp.GateStatus(1, 0)) == b"\x04"
    assert ies._enc_node_id(NodeId.fqdn("upf.local")) == b"\x02\x03upf\x05local"
    for fn, raw in ((ies._dec_fteid, b"\x01\x00"), (ies._dec_fteid, b""), (ies._dec_fteid, b"\x08\0\0\0\0"),
                    (ies._dec_fseid, b"\x02" + bytes(8)), (ies._dec_node_id, b"\x05"),
                    (ies._dec_node_id, b"\x02\x09abc"), (ies._dec_ueip, b"\x02\x0a"),
                    (ies._dec_ohc, b"\x01\x00\x00"), (ies._dec_ohr, b""), (ies._dec_gate, b""),
                    (ies._dec_bitrate, bytes(9)), (ies._dec_volume, b"\x01\x00"),
                    (ies._dec_volume, b"\x40")):
        with pytest.raises(DecodeError):
            fn(raw)


@pytest.mark.parametrize("hexdata", [
    "", "2001000c", "4001000401020300", "2401000401020300", "20ee000401020300",
    "2001000501020300", "2101000401020300", "2032000401020300",
    "2132000c000000000000000102",
    "2001000801020300006000",          # IE header truncated
    "2001000c010203000060000500000001",  # IE overruns
    "2001000c0102030000600003000001",  # recovery time stamp of 3 octets (and length mismatch)
    "20010009010203008001000100",      # vendor IE without enterprise ID
])
def test_decode_errors(hexdata: str) -> None:
    with pytest.raises(DecodeError) as exc:
        pfcp.decode(bytes.fromhex(hexdata))
    assert exc.value.protocol == "PFCP"


def test_nesting_limit() -> None:
    inner = b""
    for _ in range(12):
        inner = (1).to_bytes(2, "big") + len(inner).to_bytes(2, "big") + inner
    data = bytes.fromhex("2132") + (12 + len(inner)).to_bytes(2, "big") + bytes(8) + bytes(4) + inner
    with pytest.raises(DecodeError, match="nested"):
        pfcp.decode(data)


def test_encode_errors() -> None:
    with pytest.raises(EncodeError):
        pfcp.PfcpMessage("NoSuchMessage")
    with pytest.raises(EncodeError):
        Ies(bogus=1)
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage("HeartbeatRequest", seq=1 << 24))
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage("HeartbeatRequest", seid=5))
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage.build("HeartbeatRequest", recovery_time_stamp=1 << 40))
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage.build("SessionDeletionRequest", create_pdr=5))
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage.build("SessionDeletionRequest", cause=Ies()))
    with pytest.raises(EncodeError):
        pfcp.encode(pfcp.PfcpMessage.build("SessionDeletionRequest", node_id=NodeId.ipv4("300.1.1.1")))


def test_missing_mandatory() -> None:
    for m in _messages():
        if m.msg_type != "SessionModificationRequest":
            assert pfcp.missing_mandatory(m) == [], m.msg_type
    bad = pfcp.PfcpMessage.build(
        "SessionEstablishmentRequest", node_id=NodeId.ipv4("127.0.0.4"),
        create_pdr=[Ies(pdr_id=1, pdi=Ies(network_instance="internet"))],
        create_far=[Ies(far_id=1, forwarding_parameters=Ies())])
    assert pfcp.missing_mandatory(bad) == [
        ("f_seid", 57), ("create_pdr.precedence", 29), ("create_pdr.pdi.source_interface", 20),
        ("create_far.apply_action", 44), ("create_far.forwarding_parameters.destination_interface", 42)]


def test_leaf_memo_keeps_flag_widths_and_value_types_apart() -> None:
    """The encoder remembers leaf TLVs; equal-as-int values of other widths/types must not
    share an entry (Apply Action of 1 and 2 octets, an int vs a bool)."""
    two = pfcp.Flags(pfcp.APPLY_FORW, 2)
    one = pfcp.Flags(pfcp.APPLY_FORW, 1)
    for _ in range(2):  # second round: answered from the memo
        a = pfcp.encode(pfcp.PfcpMessage.build("SessionModificationRequest", seq=1, seid=5,
                                               update_far=[Ies(far_id=2, apply_action=two)]))
        b = pfcp.encode(pfcp.PfcpMessage.build("SessionModificationRequest", seq=1, seid=5,
                                               update_far=[Ies(far_id=2, apply_action=one)]))
        assert len(a) == len(b) + 1
        assert pfcp.decode(a).update_far.apply_action.octets == 2
        assert pfcp.decode(b).update_far.apply_action.octets == 1
