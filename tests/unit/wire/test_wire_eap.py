"""EAP-AKA' packets (RFC 9048 / RFC 4187): both ends round trip, MACs, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.wire import eap

K_AUT = bytes(range(32))
RAND, AUTN = bytes(range(16)), bytes(range(16, 32))
SNN = "5G:mnc001.mcc001.3gppnetwork.org"


def test_challenge_and_response_round_trip() -> None:
    req = eap.parse(eap.build_challenge(7, RAND, AUTN, SNN, K_AUT))
    assert eap.verify_mac(req, K_AUT) and not eap.verify_mac(req, bytes(32))
    ch = eap.challenge_of(req)
    assert (ch.identifier, ch.rand, ch.autn, ch.network_name) == (7, RAND, AUTN, SNN)
    rsp = eap.parse(eap.build_response(7, b"\x01" * 8, K_AUT))
    assert rsp.code == eap.CODE_RESPONSE and rsp.subtype == eap.SUB_CHALLENGE
    assert eap.verify_mac(rsp, K_AUT) and eap.res_of(rsp) == b"\x01" * 8


def test_sync_failure_reject_and_result() -> None:
    auts = bytes(range(14))
    sf = eap.parse(eap.build_sync_failure(3, auts))
    assert sf.subtype == eap.SUB_SYNC_FAILURE and eap.auts_of(sf) == auts
    assert eap.parse(eap.build_auth_reject(3)).subtype == eap.SUB_AUTH_REJECT
    ok = eap.parse(eap.build_result(eap.CODE_SUCCESS, 3))
    assert (ok.code, ok.identifier) == (eap.CODE_SUCCESS, 3)
    with pytest.raises(eap.EapError):
        eap.challenge_of(sf)
    with pytest.raises(eap.EapError):
        eap.res_of(sf)


@given(st.binary(max_size=80))
@settings(max_examples=400, deadline=None)
def test_any_octets_parse_or_raise_eap_error(blob: bytes) -> None:
    try:
        p = eap.parse(blob)
    except eap.EapError:
        return
    for f in (eap.challenge_of, eap.res_of, eap.auts_of):
        try:
            f(p)
        except eap.EapError:
            pass
    eap.verify_mac(p, K_AUT)


@given(st.integers(0, 200), st.binary(min_size=1, max_size=1))
@settings(max_examples=200, deadline=None)
def test_a_changed_octet_breaks_the_mac(pos: int, x: bytes) -> None:
    pkt = bytearray(eap.build_challenge(1, RAND, AUTN, SNN, K_AUT))
    pos %= len(pkt)
    if pos < 4 or pkt[pos] == x[0]:
        return  # the header changes framing, not the MAC
    pkt[pos] = x[0]
    try:
        p = eap.parse(bytes(pkt))
    except eap.EapError:
        return
    assert not eap.verify_mac(p, K_AUT)
