"""Unit tests for fivecore.security.suci: round trips, tampering, malformed input (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fivecore.security import SecurityError, SuciError, UnknownAlgorithmError
from fivecore.security.errors import SuciMacError
from fivecore.security.suci import (
    ProtectionScheme,
    SuciIdentity,
    SupiFormat,
    conceal,
    decode_msin_bcd,
    deconceal,
    deconceal_raw,
    encode_msin_bcd,
    generate_hn_keypair,
    hn_public_key,
)

KEYS = {p: generate_hn_keypair(p) for p in (ProtectionScheme.PROFILE_A, ProtectionScheme.PROFILE_B)}
msins = st.text(alphabet="0123456789", min_size=1, max_size=20)
schemes = st.sampled_from(
    [ProtectionScheme.NULL, ProtectionScheme.PROFILE_A, ProtectionScheme.PROFILE_B]
)
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _keys(scheme):
    return KEYS.get(scheme, (None, None))


@fast
@given(msin=msins, scheme=schemes)
def test_conceal_then_deconceal_returns_msin(msin, scheme):
    priv, pub = _keys(scheme)
    out = conceal(msin, scheme, pub)
    got = deconceal(out, scheme, priv)
    assert isinstance(got, str) and got == msin


@fast
@given(user=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s), scheme=schemes)
def test_nai_round_trip(user, scheme):
    priv, pub = _keys(scheme)
    out = conceal(user, scheme, pub, supi_format=SupiFormat.NAI)
    assert deconceal(out, scheme, priv, supi_format=SupiFormat.NAI) == user


def test_conceal_is_fresh_each_time():
    _, pub = KEYS[ProtectionScheme.PROFILE_A]
    assert conceal("0000000001", 1, pub) != conceal("0000000001", 1, pub)


def test_key_sizes():
    priv_a, pub_a = KEYS[ProtectionScheme.PROFILE_A]
    priv_b, pub_b = KEYS[ProtectionScheme.PROFILE_B]
    assert (len(priv_a), len(pub_a), len(priv_b), len(pub_b)) == (32, 32, 32, 33)
    assert pub_b[0] in (2, 3)
    assert hn_public_key(1, priv_a) == pub_a and hn_public_key(2, priv_b) == pub_b


@fast
@given(scheme=st.sampled_from([1, 2]), data=st.data())
def test_any_flipped_bit_is_rejected(scheme, data):
    priv, pub = KEYS[scheme]
    out = bytearray(conceal("001002086", scheme, pub))
    bit = data.draw(st.integers(0, len(out) * 8 - 1))
    out[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(SuciError):
        deconceal(bytes(out), scheme, priv)


@pytest.mark.parametrize("scheme", [1, 2])
def test_tampered_ciphertext_raises_mac_error(scheme):
    priv, pub = KEYS[scheme]
    out = bytearray(conceal("001002086", scheme, pub))
    out[-9] ^= 0x01  # last ciphertext octet
    with pytest.raises(SuciMacError, match="MAC"):
        deconceal(bytes(out), scheme, priv)


@pytest.mark.parametrize("scheme", [1, 2])
def test_wrong_home_network_key_raises_mac_error(scheme):
    _, pub = KEYS[scheme]
    other_priv, _ = generate_hn_keypair(scheme)
    with pytest.raises(SuciMacError):
        deconceal(conceal("001002086", scheme, pub), scheme, other_priv)


@pytest.mark.parametrize("scheme", [1, 2])
@pytest.mark.parametrize("cut", [0, 1, 8, 32, 41])
def test_truncated_scheme_output(scheme, cut):
    priv, pub = KEYS[scheme]
    out = conceal("001002086", scheme, pub)
    with pytest.raises(SuciError, match="too short|MAC|point"):
        deconceal(out[:cut], scheme, priv)


@settings(max_examples=150, deadline=None)
@given(blob=st.binary(max_size=80), scheme=st.integers(-2, 20))
def test_random_scheme_output_only_raises_suci_errors(blob, scheme):
    priv = KEYS.get(scheme, (bytes(32), None))[0]
    try:
        deconceal(blob, scheme, priv)
    except (SuciError, UnknownAlgorithmError):
        pass


def test_low_order_x25519_point_rejected():
    priv, _ = KEYS[ProtectionScheme.PROFILE_A]
    with pytest.raises(SuciError, match="low-order"):
        deconceal(bytes(32) + b"\x01" + bytes(8), 1, priv)


def test_invalid_p256_point_rejected():
    priv, _ = KEYS[ProtectionScheme.PROFILE_B]
    with pytest.raises(SuciError, match="point"):
        deconceal(b"\x02" + b"\xff" * 32 + b"\x01" + bytes(8), 2, priv)
    with pytest.raises(SuciError, match="SEC1"):
        deconceal(b"\x05" + b"\x11" * 32 + b"\x01" + bytes(8), 2, priv)


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda: deconceal(b"\x00" * 50, 1, bytes(31)), SuciError),
        (lambda: deconceal(b"\x00" * 50, 2, bytes(32)), SuciError),  # scalar 0 is invalid
        (lambda: deconceal(b"\x00" * 50, 2, b"\xff" * 32), SuciError),  # scalar >= n
        (lambda: conceal("123", 1, bytes(33)), SuciError),
        (lambda: conceal("123", 2, bytes(32)), SuciError),
        (lambda: conceal("12a", 0, None), SuciError),
        (lambda: conceal("", 0, None), SuciError),
        (lambda: conceal("123", 3, None), UnknownAlgorithmError),
        (lambda: deconceal(b"\x10", 15, None), UnknownAlgorithmError),
        (lambda: deconceal("0012", 0, None), SuciError),
        (lambda: generate_hn_keypair(0), UnknownAlgorithmError),
        (lambda: deconceal_raw(b"", 0, None), SuciError),
    ],
)
def test_bad_arguments(call, exc):
    with pytest.raises(exc) as info:
        call()
    assert isinstance(info.value, SecurityError) and isinstance(info.value, ValueError)


@given(msin=msins)
def test_bcd_round_trip(msin):
    assert decode_msin_bcd(encode_msin_bcd(msin)) == msin


@given(blob=st.binary(max_size=12))
def test_bcd_decode_rejects_or_decodes(blob):
    try:
        digits = decode_msin_bcd(blob)
    except SuciError:
        return
    assert digits.isdigit() and encode_msin_bcd(digits) == blob


def test_bcd_spec_example():
    assert encode_msin_bcd("001002086").hex() == "00012080f6"
    with pytest.raises(SuciError):
        decode_msin_bcd(bytes.fromhex("f0012080"))  # filler in the middle


# --- the whole SUCI ------------------------------------------------------------------------


@fast
@given(
    mcc=st.text(alphabet="0123456789", min_size=3, max_size=3),
    mnc=st.text(alphabet="0123456789", min_size=2, max_size=3),
    ri=st.text(alphabet="0123456789", min_size=1, max_size=4),
    msin=st.text(alphabet="0123456789", min_size=5, max_size=10),
    scheme=schemes,
    key_id=st.integers(1, 255),
)
def test_suci_identity_round_trips(mcc, mnc, ri, msin, scheme, key_id):
    priv, pub = _keys(scheme)
    suci = SuciIdentity.for_imsi(
        mcc,
        mnc,
        msin,
        protection_scheme=scheme,
        hn_public_key=pub,
        hn_public_key_id=key_id,
        routing_indicator=ri,
    )
    assert SuciIdentity.decode(suci.encode()) == suci
    assert SuciIdentity.from_string(suci.to_string()) == suci
    assert suci.to_supi({key_id: priv} if priv else None) == f"imsi-{mcc}{mnc}{msin}"
    assert suci.msin(priv) == msin


def test_suci_identity_encoding_layout():
    suci = SuciIdentity.for_imsi("001", "01", "0000000001")
    # SUCI type, IMSI format; MCC 001 / MNC 01; routing indicator "0"; null scheme; key id 0
    assert suci.encode().hex() == "0100f110f0ff00000000000010"
    assert suci.to_string() == "suci-0-001-01-0-0-0-0000000001"
    assert "0000000001" not in repr(suci)


def test_suci_string_profile_a():
    _, pub = KEYS[1]
    suci = SuciIdentity.for_imsi(
        "208", "93", "0000000001", protection_scheme=1, hn_public_key=pub, hn_public_key_id=7
    )
    text = suci.to_string()
    assert text.startswith("suci-0-208-93-0-1-7-") and len(text.split("-")[-1]) == 2 * (32 + 5 + 8)


def test_nai_format_suci():
    suci = SuciIdentity(SupiFormat.NAI, nai="type1.rid678.schid0.useridjohn@example.com")
    assert SuciIdentity.decode(suci.encode()) == suci


def test_to_supi_unknown_key_id():
    _, pub = KEYS[1]
    suci = SuciIdentity.for_imsi(
        "001", "01", "1234567890", protection_scheme=1, hn_public_key=pub, hn_public_key_id=3
    )
    with pytest.raises(SuciError, match="id 3"):
        suci.to_supi({1: KEYS[1][0]})


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=60))
def test_suci_decode_fuzz(blob):
    try:
        suci = SuciIdentity.decode(blob)
    except SuciError:
        return
    assert SuciIdentity.decode(suci.encode()) == suci


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.from_regex(
            r"suci-0-[0-9a-f]{1,4}-[0-9]{1,4}-[0-9]{0,5}-[0-9a-f]{1,2}-[0-9]{1,4}-[0-9a-fx]{0,12}",
            fullmatch=True,
        ),
    )
)
def test_suci_from_string_fuzz(text):
    assume(text)
    try:
        SuciIdentity.from_string(text)
    except SuciError:
        pass


@pytest.mark.parametrize(
    "blob",
    [
        "",
        "02",  # type of identity 5G-GUTI, not SUCI
        "71",  # SUPI format 7
        "0100f110f0ff0000",  # no scheme output
        "01a0f110f0ff000000",  # MCC digit not BCD
        "0100ff10f0ff000000",  # MCC digit 3 missing
        "0100f110ffff000000",  # routing indicator with no digits
        "0100f1a0f0ff000000",  # MNC digit not BCD
    ],
)
def test_suci_decode_malformed(blob):
    with pytest.raises(SuciError):
        SuciIdentity.decode(bytes.fromhex(blob))


def test_unknown_scheme_is_both_suci_and_algorithm_error():
    from fivecore.security import UnknownProtectionSchemeError

    with pytest.raises(UnknownProtectionSchemeError) as info:
        deconceal(b"\x00" * 50, 7, None)
    assert isinstance(info.value, SuciError) and isinstance(info.value, UnknownAlgorithmError)


def test_null_scheme_suci_with_bad_bcd_rejected_at_decode():
    with pytest.raises(SuciError, match="BCD"):
        SuciIdentity.decode(bytes.fromhex("0100f110f0ff0000" + "1a"))
