"""Unit tests for fivecore.security.nas_context (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.security import (
    IntegrityError,
    NasDecodeError,
    NasSecurityError,
    ReplayError,
    UnknownAlgorithmError,
)
from fivecore.security.kdf import nas_keys
from fivecore.security.nas_algorithms import nia
from fivecore.security.nas_context import (
    NasCountExhaustedError,
    NasSecurityContext,
    Role,
    SecurityHeaderType,
    parse_header_unverified,
)

KAMF = bytes(range(32))
REG_COMPLETE = bytes.fromhex("7e0043")  # 5GMM Registration Complete, plain


def pair(int_alg=2, enc_alg=2, **kw):
    amf = NasSecurityContext.from_kamf(Role.NETWORK, KAMF, int_alg=int_alg, enc_alg=enc_alg, **kw)
    ue = NasSecurityContext.from_kamf(Role.UE, KAMF, int_alg=int_alg, enc_alg=enc_alg, **kw)
    return amf, ue


@pytest.mark.parametrize("int_alg", [1, 2, 3])
@pytest.mark.parametrize("enc_alg", [0, 1, 2, 3])
def test_round_trip_both_directions(int_alg, enc_alg):
    amf, ue = pair(int_alg, enc_alg)
    for i in range(3):
        up = ue.protect(REG_COMPLETE + bytes([i]))
        got = amf.unprotect(up)
        assert (
            got.message == REG_COMPLETE + bytes([i]) and got.count == i and got.integrity_verified
        )
        down = amf.protect(b"\x7e\x00\x54" + bytes([i]))
        assert ue.unprotect(down).message == b"\x7e\x00\x54" + bytes([i])
    assert amf.ul_count == ue.ul_count == 3 and amf.dl_count == ue.dl_count == 3
    assert amf.last_ul_count == ue.last_ul_count == 2


def test_wire_layout_and_mac_input():
    amf, ue = pair(2, 2)
    wire = ue.protect(REG_COMPLETE)
    hdr = parse_header_unverified(wire)
    assert (
        wire[0] == 0x7E
        and hdr.security_header_type is SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED
    )
    assert hdr.sequence_number == 0 and hdr.unverified_payload != REG_COMPLETE  # ciphered
    k_enc, k_int = nas_keys(KAMF, 2, 2)
    # MAC over SQN || ciphered message; COUNT 0, BEARER = 1 (3GPP access), DIRECTION 0 (uplink)
    assert hdr.mac == nia(2, k_int, 0, 1, 0, wire[6:])


def test_integrity_only_header_types_are_not_ciphered():
    amf, ue = pair()
    smc = amf.protect(
        b"\x7e\x00\x5d\x22\x00", SecurityHeaderType.INTEGRITY_PROTECTED_WITH_NEW_CONTEXT
    )
    hdr = parse_header_unverified(smc)
    assert hdr.unverified_payload == b"\x7e\x00\x5d\x22\x00"  # readable before the UE has a context
    got = ue.unprotect(smc)
    assert not got.ciphered and got.security_header_type == 3
    done = ue.protect(
        b"\x7e\x00\x5e", SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED_WITH_NEW_CONTEXT
    )
    assert amf.unprotect(done).ciphered


def test_replayed_message_is_rejected():
    amf, ue = pair()
    wire = ue.protect(REG_COMPLETE)
    amf.unprotect(wire)
    with pytest.raises(ReplayError):
        amf.unprotect(wire)
    nxt = ue.protect(REG_COMPLETE)
    assert amf.unprotect(nxt).count == 1  # state unharmed by the replay


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), pick=st.data())
def test_any_earlier_message_replayed_is_rejected(n, pick):
    amf, ue = pair(3, 3)
    sent = [ue.protect(REG_COMPLETE) for _ in range(n)]
    for w in sent:
        amf.unprotect(w)
    old = pick.draw(st.sampled_from(sent))
    with pytest.raises((ReplayError, IntegrityError)):
        amf.unprotect(old)


def test_count_wraps_over_sequence_number_overflow():
    amf, ue = pair(2, 0)
    for i in range(700):
        got = amf.unprotect(ue.protect(REG_COMPLETE))
        assert got.count == i and got.sequence_number == i & 0xFF
    assert amf.ul_count == 700


def test_estimation_across_lost_messages():
    amf, ue = pair()
    for i in range(250):
        w = ue.protect(REG_COMPLETE)
        if i in (0, 249):
            amf.unprotect(w)
    for _ in range(10):  # lost, crossing the 256 boundary
        ue.protect(REG_COMPLETE)
    got = amf.unprotect(ue.protect(REG_COMPLETE))
    assert got.count == 260 and got.sequence_number == 4


def test_replay_after_wrap_detected():
    amf, ue = pair()
    first = None
    for i in range(300):
        w = ue.protect(REG_COMPLETE)
        if i == 290:
            first = w
        amf.unprotect(w)
    with pytest.raises(ReplayError):
        amf.unprotect(first)


@pytest.mark.parametrize("pos", [2, 3, 4, 5, 6, 7, 8])
def test_tampered_octet_fails_integrity(pos):
    amf, ue = pair()
    wire = bytearray(ue.protect(REG_COMPLETE + b"\x01\x02"))
    wire[pos] ^= 0x40
    with pytest.raises(IntegrityError):
        amf.unprotect(bytes(wire))
    assert amf.ul_count == 0  # nothing accepted


def test_relabelled_header_type_is_refused_once_ciphering_is_in_use():
    amf, ue = pair()
    amf.unprotect(ue.protect(REG_COMPLETE))  # ciphering now in use on this connection
    wire = bytearray(ue.protect(REG_COMPLETE))
    wire[1] = 1  # the MAC does not cover octet 2: claim "integrity only"
    with pytest.raises(IntegrityError, match="unciphered"):
        amf.unprotect(bytes(wire))
    with pytest.raises(IntegrityError, match="unciphered"):
        amf.unprotect(ue.protect(REG_COMPLETE, SecurityHeaderType.INTEGRITY_PROTECTED))
    amf.new_signalling_connection()
    ue.new_signalling_connection()
    got = amf.unprotect(ue.protect(b"\x7e\x00\x41", SecurityHeaderType.INTEGRITY_PROTECTED))
    assert got.message == b"\x7e\x00\x41" and not got.ciphered


def test_wrong_direction_fails():
    amf, ue = pair()
    up = ue.protect(REG_COMPLETE)
    with pytest.raises(IntegrityError):
        ue.unprotect(up)  # reflected back to the UE


def test_other_nas_connection_fails():
    amf, _ = pair()
    _, ue_n3gpp = pair(nas_connection_id=2)
    with pytest.raises(IntegrityError):
        amf.unprotect(ue_n3gpp.protect(REG_COMPLETE))


def test_plain_message_is_not_returned_as_verified():
    amf, _ = pair()
    with pytest.raises(IntegrityError, match="not integrity protected"):
        amf.unprotect(REG_COMPLETE)
    with pytest.raises(IntegrityError):
        amf.unprotect(b"\x2e\x01\x01\xc1")  # 5GSM plain


@pytest.mark.parametrize(
    "blob", ["", "7e", "7e01", "7e0211223344", "7e021122334400", "7e0f1122334400aa"]
)
def test_truncated_or_reserved_raise_decode_error(blob):
    amf, _ = pair()
    with pytest.raises(NasDecodeError):
        amf.unprotect(bytes.fromhex(blob))


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=40))
def test_random_input_only_raises_nas_security_errors(blob):
    amf, _ = pair(1, 1)
    try:
        amf.unprotect(blob)
    except NasSecurityError:
        pass
    else:  # pragma: no cover - would need a 2^-32 MAC forgery
        pytest.fail("random bytes verified")


def test_null_integrity_is_refused_by_default():
    with pytest.raises(UnknownAlgorithmError, match="NIA0"):
        pair(0, 0)
    amf, ue = pair(0, 0, allow_null_integrity=True)
    got = amf.unprotect(ue.protect(REG_COMPLETE))
    assert got.message == REG_COMPLETE and not got.integrity_verified


def test_count_exhaustion():
    amf, ue = pair()
    ue2 = NasSecurityContext.from_kamf(Role.UE, KAMF, int_alg=2, enc_alg=2, ul_count=(1 << 24) - 1)
    ue2.protect(REG_COMPLETE)
    with pytest.raises(NasCountExhaustedError):
        ue2.protect(REG_COMPLETE)


def test_bad_constructor_arguments():
    with pytest.raises(UnknownAlgorithmError):
        NasSecurityContext(Role.UE, k_nas_int=bytes(16), k_nas_enc=bytes(16), int_alg=4, enc_alg=0)
    with pytest.raises(ValueError):
        NasSecurityContext(Role.UE, k_nas_int=bytes(15), k_nas_enc=bytes(16), int_alg=2, enc_alg=0)
    with pytest.raises(ValueError):
        NasSecurityContext("ue", k_nas_int=bytes(16), k_nas_enc=bytes(16), int_alg=2, enc_alg=0)


def test_repr_hides_keys():
    amf, _ = pair()
    assert "k_" not in repr(amf).lower() and "role=network" in repr(amf)
