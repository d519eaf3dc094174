"""Each fast path of fivecore.security against a plain reference computation (no I/O).

The references are written out here from the specifications, with a fresh ``Cipher`` /
``CMAC`` / ``hmac.new`` per call and no caching, so a fast path that keeps state between
calls (cached key schedules, the Milenage TEMP hand-over, the encoded serving network name)
is checked against something that keeps none.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.security import InvalidParameterError, KeyLengthError, SuciError, kdf, milenage, suci
from fivecore.security.errors import SuciMacError
from fivecore.security.nas_algorithms import (
    Nea2Keystream,
    Nia2Mac,
    nea,
    nea_for_key,
    nia,
    nia_for_key,
)
from fivecore.security.nas_context import NasSecurityContext, Role, SecurityHeaderType

b16 = st.binary(min_size=16, max_size=16)
b32 = st.binary(min_size=32, max_size=32)
b6 = st.binary(min_size=6, max_size=6)
b2 = st.binary(min_size=2, max_size=2)
u32 = st.integers(0, 2**32 - 1)
bearers = st.integers(0, 31)
dirs = st.integers(0, 1)
names = st.one_of(st.text(max_size=60), st.binary(max_size=60))


# --- references ---------------------------------------------------------------------------


def ref_kdf(key: bytes, fc: int, *params: bytes | str) -> bytes:
    """TS 33.220 B.2.0, written out."""
    s = bytes([fc])
    for p in params:
        pb = p.encode("utf-8") if isinstance(p, str) else p
        s += pb + struct.pack(">H", len(pb))
    return hmac.new(key, s, hashlib.sha256).digest()


def ref_aes(k: bytes, block: bytes) -> bytes:
    return Cipher(algorithms.AES(k), modes.ECB()).encryptor().update(block)


def ref_milenage(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> tuple[bytes, ...]:
    """TS 35.206 §4.1 on byte strings: (MAC-A, RES, CK, IK, AK)."""

    def xor(a: bytes, b: bytes) -> bytes:
        return bytes(x ^ y for x, y in zip(a, b, strict=True))

    def rot(x: bytes, r: int) -> bytes:
        return x[r // 8 :] + x[: r // 8]  # r is a multiple of 8 here

    def c(i: int) -> bytes:
        return i.to_bytes(16, "big")

    temp = ref_aes(k, xor(rand, opc))
    in1 = sqn + amf + sqn + amf
    out1 = xor(ref_aes(k, xor(xor(temp, rot(xor(in1, opc), 64)), c(0))), opc)
    outs = [xor(ref_aes(k, xor(rot(xor(temp, opc), r), c(ci))), opc) for r, ci in ((0, 1), (32, 2), (64, 4), (96, 8))]
    return out1[:8], outs[0][8:16], outs[1], outs[2], outs[0][:6]


def ref_nea2(key: bytes, count: int, bearer: int, direction: int, data: bytes) -> bytes:
    """TS 33.401 B.1.3: AES-CTR from COUNT||BEARER||DIRECTION||0^26||0^64."""
    t1 = struct.pack(">II", count, (bearer << 27) | (direction << 26)) + bytes(8)
    return Cipher(algorithms.AES(key), modes.CTR(t1)).encryptor().update(data)


def ref_nia2(key: bytes, count: int, bearer: int, direction: int, msg: bytes) -> bytes:
    """TS 33.401 B.2.3: the first 32 bits of AES-CMAC over COUNT||BEARER||DIRECTION||0^26||MSG."""
    c = CMAC(algorithms.AES(key))
    c.update(struct.pack(">II", count, (bearer << 27) | (direction << 26)) + msg)
    return c.finalize()[:4]


def ref_suci_a(out: bytes, priv: bytes) -> bytes:
    """TS 33.501 C.3.3 / C.3.4.1 written out (ANSI X9.63 KDF, AES-128-CTR, HMAC-SHA-256/64)."""
    eph = out[:32]
    z = x25519.X25519PrivateKey.from_private_bytes(priv).exchange(
        x25519.X25519PublicKey.from_public_bytes(eph)
    )
    k = b"".join(hashlib.sha256(z + i.to_bytes(4, "big") + eph).digest() for i in (1, 2))
    ek, icb, mk = k[:16], k[16:32], k[32:]
    ct, tag = out[32:-8], out[-8:]
    if hmac.new(mk, ct, hashlib.sha256).digest()[:8] != tag:
        raise SuciMacError("tag")
    # no 32-bit counter wrap for these lengths unless the ICB's low word is near the top
    blocks = b"".join(
        icb[:12] + ((int.from_bytes(icb[12:], "big") + i) & 0xFFFFFFFF).to_bytes(4, "big")
        for i in range((len(ct) + 15) // 16)
    )
    ks = ref_aes(ek, blocks)
    return bytes(a ^ b for a, b in zip(ct, ks, strict=False))


def ref_bcd(data: bytes) -> str | None:
    """Packed BCD MSIN, low nibble first, 0xF only as the last high nibble; None if invalid."""
    if not data or len(data) > 10:
        return None
    digits = []
    for i, b in enumerate(data):
        lo, hi = b & 0xF, b >> 4
        if lo > 9:
            return None
        digits.append(str(lo))
        if hi == 0xF and i == len(data) - 1:
            break
        if hi > 9:
            return None
        digits.append(str(hi))
    return "".join(digits)


# --- KDF ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(ck=b16, ik=b16, snn=names, rand=b16, res=st.sampled_from([4, 6, 8, 10, 12, 14, 16]).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)), sqn_ak=b6)
def test_res_star_and_kausf_equal_the_written_out_kdf(ck, ik, snn, rand, res, sqn_ak):
    assert kdf.res_star(ck, ik, snn, rand, res) == ref_kdf(ck + ik, 0x6B, snn, rand, res)[16:]
    assert kdf.kausf(ck, ik, snn, sqn_ak) == ref_kdf(ck + ik, 0x6A, snn, sqn_ak)
    # a second call (encoded name now remembered) gives the same
    assert kdf.kausf(ck, ik, snn, sqn_ak) == ref_kdf(ck + ik, 0x6A, snn, sqn_ak)


@settings(max_examples=150, deadline=None)
@given(k=b32, snn=names, supi=st.one_of(st.from_regex(r"imsi-[0-9]{5,15}", fullmatch=True),
                                       st.text(max_size=30), st.binary(max_size=30)),
       abba=st.binary(min_size=2, max_size=6), rand=b16, x=b16)
def test_kseaf_kamf_hxres_equal_the_written_out_kdf(k, snn, supi, abba, rand, x):
    assert kdf.kseaf(k, snn) == ref_kdf(k, 0x6C, snn)
    p0 = kdf.supi_kdf_string(supi) if isinstance(supi, str) else supi
    assert kdf.kamf(k, supi, abba) == ref_kdf(k, 0x6D, p0, abba)
    assert kdf.kamf(k, supi, bytearray(abba)) == ref_kdf(k, 0x6D, p0, abba)
    assert kdf.hxres_star(rand, x) == hashlib.sha256(rand + x).digest()[16:]


@settings(max_examples=150, deadline=None)
@given(k=b32, t=st.integers(0, 255), a=st.integers(0, 15), e=st.integers(0, 15), count=u32,
       access=st.integers(0, 255))
def test_algorithm_keys_and_kgnb_equal_the_written_out_kdf(k, t, a, e, count, access):
    assert kdf.algorithm_key(k, t, a) == ref_kdf(k, 0x69, bytes([t]), bytes([a]))[16:]
    assert kdf.nas_keys(k, e, a) == (
        ref_kdf(k, 0x69, b"\x01", bytes([e]))[16:],
        ref_kdf(k, 0x69, b"\x02", bytes([a]))[16:],
    )
    assert kdf.kgnb(k, count, access) == ref_kdf(k, 0x6E, count.to_bytes(4, "big"), bytes([access]))
    assert kdf.kdf(k, t, b"x", "y") == ref_kdf(k, t, b"x", "y")


def test_kdf_fast_paths_keep_the_argument_errors():
    k = bytes(32)
    for bad in (True, -1, 16, "1"):
        with pytest.raises(InvalidParameterError):
            kdf.nas_keys(k, bad, 2)
        with pytest.raises(InvalidParameterError):
            kdf.algorithm_key(k, 1, bad)
        with pytest.raises(InvalidParameterError):
            kdf.kgnb(k, 0, bad if bad != 16 else 256)
    with pytest.raises(InvalidParameterError):
        kdf.kgnb(k, 2**32)
    with pytest.raises(InvalidParameterError):
        kdf.kseaf(k, 5)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="L0 has only 16 bits"):
        kdf.kseaf(k, "x" * 70000)
    with pytest.raises(KeyLengthError):
        kdf.kseaf(bytearray(31), "5G:x")
    # bytes-like keys still work as before
    assert kdf.kseaf(bytearray(k), "5G:x") == kdf.kseaf(k, "5G:x")


# --- Milenage -----------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(k=b16, opc=b16, rand=b16, sqn=b6, amf=b2, k2=b16, order=st.permutations(range(4)))
def test_milenage_f1_f2345_any_order_equal_the_reference(k, opc, rand, sqn, amf, k2, order):
    """The TEMP hand-over between f1 and f2345 is right whatever runs in between."""
    mac_a, res, ck, ik, ak = ref_milenage(k, opc, rand, sqn, amf)
    other = ref_milenage(k2, opc, rand, sqn, amf)
    calls = [
        lambda: milenage.f1(k, opc, rand, sqn, amf) == mac_a,
        lambda: milenage.f2345(k, opc, rand) == (res, ck, ik, ak),
        lambda: milenage.f1(k2, opc, rand, sqn, amf) == other[0],
        lambda: milenage.f2345(k2, opc, rand) == other[1:],
    ]
    for i in order:
        assert calls[i]()
    # the UDM's order (f1 then f2345) and the USIM's (f2345 then f1), back to back
    assert milenage.f1(k, opc, rand, sqn, amf) == mac_a
    assert milenage.f2345(k, opc, rand) == (res, ck, ik, ak)
    assert milenage.f2345(k, opc, rand) == (res, ck, ik, ak)
    assert milenage.f1(k, opc, rand, sqn, amf) == mac_a
    assert milenage.f1(k, opc, rand, sqn, bytes(2)) == ref_milenage(k, opc, rand, sqn, bytes(2))[0]
    assert milenage.f1(bytearray(k), opc, memoryview(rand), sqn, amf) == mac_a


def test_milenage_hand_over_keeps_the_length_errors():
    k = bytes(16)
    milenage.f1(k, k, k, bytes(6), bytes(2))
    with pytest.raises(KeyLengthError):
        milenage.f2345(k, k, bytes(15))


# --- NEA2 / NIA2 per key --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(key=b16, msgs=st.lists(st.tuples(u32, bearers, dirs, st.binary(max_size=1200)), min_size=1, max_size=4))
def test_nea2_nia2_per_key_objects_equal_fresh_cipher_and_cmac(key, msgs):
    ks, mac = Nea2Keystream(key), Nia2Mac(key)
    for count, bearer, direction, data in msgs:
        assert ks(count, bearer, direction, data) == ref_nea2(key, count, bearer, direction, data)
        assert mac(count, bearer, direction, data) == ref_nia2(key, count, bearer, direction, data)


@settings(max_examples=80, deadline=None)
@given(alg=st.integers(0, 3), key=b16, count=u32, bearer=bearers, direction=dirs,
       data=st.binary(min_size=1, max_size=120))
def test_for_key_callables_equal_the_public_functions(alg, key, count, bearer, direction, data):
    assert nea_for_key(alg, key)(count, bearer, direction, data) == nea(alg, key, count, bearer, direction, data)
    assert nia_for_key(alg, key)(count, bearer, direction, data) == nia(alg, key, count, bearer, direction, data)


def ref_protect(k_int: bytes, k_enc: bytes, count: int, direction: int, sht: int, msg: bytes) -> bytes:
    """TS 24.501 §4.4.3-4.4.5 with the public nea()/nia(): EPD, SHT, MAC, SQN, message."""
    body = nea(2, k_enc, count, 1, direction, msg) if sht in (2, 4) else msg
    signed = bytes([count & 0xFF]) + body
    return bytes([0x7E, sht]) + nia(2, k_int, count, 1, direction, signed) + signed


@settings(max_examples=100, deadline=None)
@given(kamf=b32, seq=st.lists(st.tuples(st.sampled_from([1, 2, 3, 4]), st.binary(min_size=1, max_size=200)),
                              min_size=1, max_size=6), as_bytearray=st.booleans())
def test_context_protect_unprotect_equal_the_reference(kamf, seq, as_bytearray):
    k_enc, k_int = kdf.nas_keys(kamf, 2, 2)
    amf = NasSecurityContext.from_kamf(Role.NETWORK, kamf, int_alg=2, enc_alg=2)
    ue = NasSecurityContext.from_kamf(Role.UE, kamf, int_alg=2, enc_alg=2)
    for i, (sht, msg) in enumerate(seq):
        pdu = amf.protect(bytearray(msg) if as_bytearray else msg, SecurityHeaderType(sht) if i % 2 else sht)
        assert pdu == ref_protect(k_int, k_enc, i, 1, sht, msg)
        got = ue.unprotect(bytearray(pdu) if as_bytearray else pdu)
        assert (got.message, got.count, got.ciphered, got.integrity_verified) == (msg, i, sht in (2, 4), True)
        assert got.security_header_type is SecurityHeaderType(sht)
        ue.new_signalling_connection()


# --- SUCI -----------------------------------------------------------------------------------

PRIV_A, PUB_A = suci.generate_hn_keypair(1)


@settings(max_examples=120, deadline=None)
@given(plain=st.binary(min_size=1, max_size=60), eph=b32, flip=st.integers(-1, 200))
def test_profile_a_deconceal_equals_the_written_out_ecies(plain, eph, flip):
    out = suci.conceal_raw(plain, 1, PUB_A, ephemeral_private_key=eph)
    if 0 <= flip < 8 * len(out):
        out = bytearray(out)
        out[flip // 8] ^= 1 << (flip % 8)
        out = bytes(out)
    try:
        want: bytes | type[Exception] = ref_suci_a(out, PRIV_A)
    except (SuciMacError, ValueError):
        want = SuciError
    if want is SuciError:
        with pytest.raises(SuciError):
            suci.deconceal_raw(out, 1, PRIV_A)
    else:
        assert suci.deconceal_raw(out, 1, PRIV_A) == want
        assert suci.deconceal_raw(bytearray(out), suci.ProtectionScheme.PROFILE_A, PRIV_A) == want


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=12))
def test_bcd_decoder_equals_the_written_out_one(data):
    want = ref_bcd(data)
    if want is None:
        with pytest.raises(SuciError):
            suci.decode_msin_bcd(data)
    else:
        assert suci.decode_msin_bcd(data) == want


_DIG = re.compile(r"[0-9]+")
digit_text = st.one_of(st.text(alphabet="0123456789", max_size=5), st.text(max_size=4))


@settings(max_examples=300, deadline=None)
@given(mcc=digit_text, mnc=digit_text, ri=digit_text, scheme=st.integers(-1, 16),
       key_id=st.integers(-1, 256), out=st.binary(max_size=40))
def test_suci_identity_accepts_exactly_what_the_rules_accept(mcc, mnc, ri, scheme, key_id, out):
    valid = (
        len(mcc) == 3 and bool(_DIG.fullmatch(mcc))
        and len(mnc) in (2, 3) and bool(_DIG.fullmatch(mnc))
        and 1 <= len(ri) <= 4 and bool(_DIG.fullmatch(ri))
        and 0 <= scheme <= 15 and 0 <= key_id <= 255 and bool(out)
        and (scheme != 0 or ref_bcd(out) is not None)
    )  # fmt: skip
    if valid:
        ident = suci.SuciIdentity(0, mcc, mnc, ri, scheme, key_id, out)
        assert (ident.mcc, ident.mnc, ident.routing_indicator, ident.scheme_output) == (mcc, mnc, ri, out)
    else:
        with pytest.raises(SuciError):
            suci.SuciIdentity(0, mcc, mnc, ri, scheme, key_id, out)


def test_to_supi_with_a_key_a_mapping_or_none():
    out = suci.conceal("0000000001", 1, PUB_A)
    ident = suci.SuciIdentity(0, "001", "01", "0", 1, 7, out)
    assert ident.to_supi(PRIV_A) == ident.to_supi({7: PRIV_A}) == "imsi-001010000000001"
    assert ident.to_supi(bytearray(PRIV_A)) == "imsi-001010000000001"
    with pytest.raises(SuciError):
        ident.to_supi({8: PRIV_A})
    with pytest.raises(SuciError):
        ident.to_supi(None)


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(b32, st.binary(max_size=100)), msg=st.binary(max_size=300))
def test_hmac_sha256_equals_the_standard_library(key, msg):
    from fivecore.security._util import hmac_sha256

    assert hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()
