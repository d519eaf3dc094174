"""Unit tests for fivecore.security.nas_algorithms (no I/O)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.security import (
    InvalidParameterError,
    KeyLengthError,
    SecurityError,
    UnknownAlgorithmError,
    _snow3g,
    _zuc,
)
from fivecore.security.nas_algorithms import _cmac_bits, nea, nia

key = st.binary(min_size=16, max_size=16)
count = st.integers(0, 0xFFFFFFFF)
bearer = st.integers(0, 31)
direction = st.integers(0, 1)
alg = st.integers(0, 3)
slow = settings(max_examples=40, deadline=None)


@st.composite
def bit_messages(draw, max_bits=600):
    nbits = draw(st.integers(0, max_bits))
    data = draw(st.binary(min_size=(nbits + 7) // 8, max_size=(nbits + 7) // 8))
    return data, nbits


def _masked(data: bytes, nbits: int) -> bytes:
    rem = nbits & 7
    if rem and data:
        return data[:-1] + bytes((data[-1] & (0xFF00 >> rem) & 0xFF,))
    return data


@slow
@given(a=alg, k=key, c=count, b=bearer, d=direction, msg=bit_messages())
def test_nea_round_trip(a, k, c, b, d, msg):
    data, nbits = msg
    ct = nea(a, k, c, b, d, data, nbits)
    assert len(ct) == (nbits + 7) // 8
    assert _masked(ct, nbits) == ct  # bits past LENGTH are zero
    assert nea(a, k, c, b, d, ct, nbits) == _masked(data, nbits)


@slow
@given(
    a=st.integers(1, 3),
    k=key,
    c=count,
    b=bearer,
    d=direction,
    data=st.binary(min_size=8, max_size=120),
)
def test_nea_keystream_depends_on_every_input(a, k, c, b, d, data):
    base = nea(a, k, c, b, d, data)
    assert nea(a, k, c ^ 1, b, d, data) != base
    assert nea(a, k, c, b ^ 1, d, data) != base
    assert nea(a, k, c, b, d ^ 1, data) != base
    assert base != data  # 64+ bits: a collision would be a 2^-64 event


@slow
@given(
    a=st.integers(1, 3),
    k=key,
    c=count,
    b=bearer,
    d=direction,
    data=st.binary(min_size=1, max_size=80),
    cut=st.integers(0, 79),
)
def test_nea_prefix_property(a, k, c, b, d, data, cut):
    cut = min(cut, len(data))
    assert nea(a, k, c, b, d, data)[:cut] == nea(a, k, c, b, d, data[:cut])


@slow
@given(
    a=st.integers(1, 3), k=key, c=count, b=bearer, d=direction, msg=bit_messages(), data=st.data()
)
def test_flipped_bit_fails_nia(a, k, c, b, d, msg, data):
    m, nbits = msg
    mac = nia(a, k, c, b, d, m, nbits)
    assert len(mac) == 4
    if nbits:
        bit = data.draw(st.integers(0, nbits - 1))
        flipped = bytearray(m)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        assert nia(a, k, c, b, d, bytes(flipped), nbits) != mac
    assert nia(a, k, c ^ 1, b, d, m, nbits) != mac
    assert nia(a, k, c, b, d ^ 1, m, nbits) != mac


@slow
@given(a=st.integers(0, 3), k=key, msg=bit_messages(200))
def test_bits_past_length_are_ignored(a, k, msg):
    m, nbits = msg
    if nbits % 8 == 0 or not m:
        return
    noisy = m[:-1] + bytes((m[-1] | (0xFF >> (nbits % 8)),))
    assert nia(a, k, 7, 3, 1, noisy, nbits) == nia(a, k, 7, 3, 1, m, nbits)
    assert nea(a, k, 7, 3, 1, noisy, nbits) == nea(a, k, 7, 3, 1, m, nbits)


@given(k=key, data=st.binary(max_size=100))
def test_bit_cmac_matches_cryptography_on_whole_octets(k, data):
    c = CMAC(algorithms.AES(k))
    c.update(data)
    assert _cmac_bits(k, data, 8 * len(data)) == c.finalize()


def test_null_algorithms():
    assert nea(0, None, 1, 1, 0, b"\x7e\x00\x41") == b"\x7e\x00\x41"
    assert nia(0, None, 1, 1, 0, b"\x7e\x00\x41") == bytes(4)


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda: nea(4, bytes(16), 0, 0, 0, b"x"), UnknownAlgorithmError),
        (lambda: nia(-1, bytes(16), 0, 0, 0, b"x"), UnknownAlgorithmError),
        (lambda: nia(True, bytes(16), 0, 0, 0, b"x"), UnknownAlgorithmError),
        (lambda: nea("2", bytes(16), 0, 0, 0, b"x"), UnknownAlgorithmError),
        (lambda: nea(2, bytes(15), 0, 0, 0, b"x"), KeyLengthError),
        (lambda: nia(3, bytes(32), 0, 0, 0, b"x"), KeyLengthError),
        (lambda: nia(1, None, 0, 0, 0, b"x"), KeyLengthError),
        (lambda: nea(1, bytes(16), 1 << 32, 0, 0, b"x"), InvalidParameterError),
        (lambda: nea(1, bytes(16), 0, 32, 0, b"x"), InvalidParameterError),
        (lambda: nia(2, bytes(16), 0, 0, 2, b"x"), InvalidParameterError),
        (lambda: nia(2, bytes(16), 0, 0, 0, b"xy", 7), InvalidParameterError),
        (lambda: nea(2, bytes(16), 0, 0, 0, b"x", 9), InvalidParameterError),
        (lambda: nea(2, bytes(16), 0, 0, 0, "text"), InvalidParameterError),
    ],
)
def test_bad_arguments(call, exc):
    with pytest.raises(exc) as info:
        call()
    assert isinstance(info.value, SecurityError) and isinstance(info.value, ValueError)


def test_zuc_spec_examples():
    # ZUC spec v1.6 §3.4.1 Examples 7 and 8.
    assert _zuc.sbox_word(0x12345678) == 0xF9C05A4E


def test_snow3g_sboxes_are_permutations():
    assert sorted(_snow3g._SR) == list(range(256))
    assert sorted(_snow3g._SQ) == list(range(256))


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 3), st.binary(min_size=16, max_size=16), st.integers(0, 2**32 - 1), st.integers(0, 31),
       st.integers(0, 1), st.binary(max_size=70))
def test_octet_entry_points_equal_the_checked_ones(alg, key, count, bearer, direction, data):
    """NasSecurityContext's per-message calls skip argument checks; the results must not change."""
    from fivecore.security.nas_algorithms import nea_octets, nia_octets

    assert nea_octets(alg, key, count, bearer, direction, data) == nea(alg, key, count, bearer, direction, data)
    assert nia_octets(alg, key, count, bearer, direction, data) == nia(alg, key, count, bearer, direction, data)
