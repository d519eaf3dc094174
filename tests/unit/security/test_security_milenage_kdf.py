"""Unit tests for fivecore.security.milenage and fivecore.security.kdf (no I/O)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.security import KeyLengthError, SecurityError, kdf, milenage
from fivecore.security.errors import InvalidParameterError

b16 = st.binary(min_size=16, max_size=16)
b6 = st.binary(min_size=6, max_size=6)
b2 = st.binary(min_size=2, max_size=2)


@given(k=b16, opc=b16, rand=b16, sqn=b6, amf=b2)
def test_milenage_all_matches_individual_functions(k, opc, rand, sqn, amf):
    allv = milenage.milenage(k, opc, rand, sqn, amf)
    assert allv["mac_a"] == milenage.f1(k, opc, rand, sqn, amf)
    assert allv["mac_s"] == milenage.f1star(k, opc, rand, sqn, amf)
    assert (allv["res"], allv["ck"], allv["ik"], allv["ak"]) == milenage.f2345(k, opc, rand)
    assert allv["ak_star"] == milenage.f5star(k, opc, rand)
    assert [len(allv[x]) for x in ("mac_a", "mac_s", "res", "ck", "ik", "ak", "ak_star")] == [
        8, 8, 8, 16, 16, 6, 6,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        lambda: milenage.compute_opc(bytes(15), bytes(16)),
        lambda: milenage.compute_opc(bytes(16), bytes(17)),
        lambda: milenage.f1(bytes(16), bytes(16), bytes(16), bytes(5), bytes(2)),
        lambda: milenage.f1star(bytes(16), bytes(16), bytes(16), bytes(6), bytes(3)),
        lambda: milenage.f2345(bytes(16), bytes(16), bytes(15)),
        lambda: milenage.f5star(bytes(32), bytes(16), bytes(16)),
        lambda: milenage.f2345("0" * 16, bytes(16), bytes(16)),
        lambda: kdf.kausf(bytes(16), bytes(16), "5G:x", bytes(5)),
        lambda: kdf.kseaf(bytes(16), "5G:x"),
        lambda: kdf.kamf(bytes(31), "imsi-001010000000001"),
        lambda: kdf.nas_keys(bytes(16), 0, 2),
        lambda: kdf.kgnb(bytes(33), 0, 1),
        lambda: kdf.nh(bytes(32), bytes(16)),
        lambda: kdf.res_star(bytes(16), bytes(16), "5G:x", bytes(16), bytes(3)),
        lambda: kdf.hxres_star(bytes(16), bytes(8)),
        lambda: kdf.ck_ik_prime(bytes(16), bytes(15), "5G:x", bytes(6)),
        lambda: kdf.eap_aka_prime_keys(bytes(16), bytes(17), "0010100000000001"),
        lambda: kdf.kausf_from_emsk(bytes(32)),
    ],
)
def test_wrong_lengths_raise_key_length_error(call):
    with pytest.raises(KeyLengthError) as info:
        call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, SecurityError)
    assert "bytes" in str(info.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: kdf.kdf(bytes(32), 256),
        lambda: kdf.kdf(bytes(32), -1),
        lambda: kdf.kdf(bytes(32), 0x6A, 5),
        lambda: kdf.kdf(bytes(32), 0x6A, bytes(0x10000)),
        lambda: kdf.kgnb(bytes(32), 1 << 32),
        lambda: kdf.nas_keys(bytes(32), 16, 2),
        lambda: kdf.kamf(bytes(32), "imsi-1", b"\x00"),
        lambda: kdf.serving_network_name("1", "01"),
        lambda: kdf.prf_prime(bytes(32), b"", 255 * 32 + 1),
    ],
)
def test_out_of_range_parameters(call):
    with pytest.raises(InvalidParameterError):
        call()


@given(
    key=st.binary(max_size=64),
    fc=st.integers(0, 255),
    params=st.lists(st.binary(max_size=40), max_size=4),
)
def test_kdf_is_hmac_sha256_over_s(key, fc, params):
    s = bytes((fc,)) + b"".join(p + len(p).to_bytes(2, "big") for p in params)
    assert kdf.kdf(key, fc, *params) == hmac.new(key, s, hashlib.sha256).digest()


def test_string_parameters_are_utf8():
    assert kdf.kdf(bytes(32), 0x6C, "5G:mnc001.mcc001.3gppnetwork.org") == kdf.kdf(
        bytes(32), 0x6C, b"5G:mnc001.mcc001.3gppnetwork.org"
    )


def test_serving_network_name_pads_mnc():
    assert kdf.serving_network_name("001", "01") == "5G:mnc001.mcc001.3gppnetwork.org"
    assert kdf.serving_network_name("310", "410") == "5G:mnc410.mcc310.3gppnetwork.org"


def test_kamf_strips_supi_prefix():
    k = bytes(range(32))
    assert kdf.kamf(k, "imsi-001010000000001") == kdf.kamf(k, "001010000000001")
    assert kdf.supi_kdf_string("nai-user@example.com") == "user@example.com"


@given(rand=b16, xres=b16)
def test_hxres_star_is_last_128_bits_of_sha256(rand, xres):
    assert kdf.hxres_star(rand, xres) == hashlib.sha256(rand + xres).digest()[16:]


def test_eap_aka_prime_keys_shape_and_repr():
    keys = kdf.eap_aka_prime_keys(bytes(16), bytes(16), "imsi-001010000000001")
    assert [len(x) for x in (keys.k_encr, keys.k_aut, keys.k_re, keys.msk, keys.emsk)] == [
        16,
        32,
        32,
        64,
        64,
    ]
    assert keys == kdf.eap_aka_prime_keys(bytes(16), bytes(16), "001010000000001")
    assert "redacted" in repr(keys) and keys.emsk.hex() not in repr(keys)
    assert kdf.kausf_from_emsk(keys.emsk) == keys.emsk[:32]


def test_prf_prime_prefix_property():
    long = kdf.prf_prime(b"k", b"s", 200)
    assert kdf.prf_prime(b"k", b"s", 33) == long[:33]
