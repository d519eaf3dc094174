"""The simulated USIM (fivecore.ran.usim): AUTN check, SQN freshness, AUTS, SUCI.

Known answers come from ../shared/vectors/milenage.json (read at test time): the USIM must
accept the network's AUTN built from a test set and return that set's RES/CK/IK, and its
AUTS must carry SQN_MS under the set's AK* with the set's MAC-S arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.ran.usim import (
    DELTA,
    AkaMacFailure,
    AkaNon5gFailure,
    AkaSuccess,
    AkaSynchFailure,
    Usim,
    UsimError,
)
from fivecore.security import milenage, suci

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
SETS = json.loads((SHARED / "vectors" / "milenage.json").read_text())["entries"]


def autn_for(k: bytes, opc: bytes, rand: bytes, sqn: int, amf: bytes = b"\x80\x00") -> bytes:
    sqn_b = sqn.to_bytes(6, "big")
    _, _, _, ak = milenage.f2345(k, opc, rand)
    return bytes(a ^ b for a, b in zip(sqn_b, ak, strict=True)) + amf + milenage.f1(k, opc, rand, sqn_b, amf)


@pytest.mark.parametrize("v", SETS, ids=[v["id"] for v in SETS])
def test_known_answer_sets(v: dict) -> None:
    k, opc, rand = bytes.fromhex(v["k"]), bytes.fromhex(v["opc"]), bytes.fromhex(v["rand"])
    sqn = int(v["sqn"], 16)
    amf = bytes.fromhex(v["amf"])
    usim = Usim("001010000000001", k, opc=opc, sqn=max(0, sqn - 32))
    sqn_ak = bytes(a ^ b for a, b in zip(bytes.fromhex(v["sqn"]), bytes.fromhex(v["f5_ak"]), strict=True))
    autn = sqn_ak + amf + bytes.fromhex(v["f1_mac_a"])
    r = usim.authenticate(rand, autn)
    if not amf[0] & 0x80:
        assert isinstance(r, AkaNon5gFailure)  # TS 33.501 §6.1.3.2.0: separation bit required
        return
    assert isinstance(r, AkaSuccess)
    assert r.res == bytes.fromhex(v["f2_res"])
    assert r.ck == bytes.fromhex(v["f3_ck"]) and r.ik == bytes.fromhex(v["f4_ik"])
    assert r.sqn_xor_ak == sqn_ak


@pytest.mark.parametrize("v", SETS[:3], ids=[v["id"] for v in SETS[:3]])
def test_auts_matches_the_set(v: dict) -> None:
    k, opc, rand = bytes.fromhex(v["k"]), bytes.fromhex(v["opc"]), bytes.fromhex(v["rand"])
    sqn_ms = int(v["sqn"], 16)
    usim = Usim("001010000000001", k, opc=opc, sqn=sqn_ms)
    r = usim.authenticate(rand, autn_for(k, opc, rand, sqn_ms))  # not fresh: equal to SQN_MS
    assert isinstance(r, AkaSynchFailure)
    conc = bytes(a ^ b for a, b in zip(bytes.fromhex(v["sqn"]), bytes.fromhex(v["f5star_ak"]), strict=True))
    assert r.auts[:6] == conc
    assert r.auts[6:] == milenage.f1star(k, opc, rand, bytes.fromhex(v["sqn"]), b"\x00\x00")


def test_mac_failure_does_not_move_sqn() -> None:
    k, opc = bytes(16), bytes(range(16))
    usim = Usim("001010000000001", k, opc=opc, sqn=100)
    bad = bytearray(autn_for(k, opc, bytes(16), 200))
    bad[-1] ^= 1
    assert isinstance(usim.authenticate(bytes(16), bytes(bad)), AkaMacFailure)
    assert usim.sqn_ms == 100
    assert isinstance(usim.authenticate(bytes(16), b"short"), AkaMacFailure)


def test_sqn_window() -> None:
    k, opc, rand = bytes(16), bytes(range(16)), bytes(range(16, 32))
    usim = Usim("001010000000001", k, opc=opc, sqn=64)
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, 96)), AkaSuccess)
    # replay of the same vector: not fresh
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, 96)), AkaSynchFailure)
    # out of order but unused IND slot with a higher SEQ than that slot held: accepted once
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, 97)), AkaSuccess)
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, 95 + 32)), AkaSuccess)
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, 95)), AkaSynchFailure)
    # a jump beyond DELTA is refused (TS 33.102 Annex C.2.1)
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, usim.sqn_ms + DELTA + 1)), AkaSynchFailure)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, (1 << 40)), st.integers(1, 1 << 20))
def test_fresh_higher_sqn_always_accepted(start: int, step: int) -> None:
    k, opc, rand = bytes(16), bytes(range(16)), bytes(range(16, 32))
    usim = Usim("001010000000001", k, opc=opc, sqn=start)
    assert isinstance(usim.authenticate(rand, autn_for(k, opc, rand, start + step)), AkaSuccess)
    assert usim.sqn_ms == start + step


@pytest.mark.parametrize("scheme", [0, 1, 2])
def test_suci_conceals_and_the_home_network_recovers_it(scheme: int) -> None:
    priv, pub = suci.generate_hn_keypair(scheme or 1)
    usim = Usim("001010123456789", bytes(16), opc=bytes(16), protection_scheme=scheme,
                hn_public_key=pub if scheme else None, hn_key_id=5 if scheme else 0)
    s1, s2 = usim.make_suci(), usim.make_suci()
    assert s1.to_supi({5: priv}) == "imsi-001010123456789"
    if scheme:
        assert s1.scheme_output != s2.scheme_output, "a fresh ephemeral key per SUCI"
        assert "0123456789" not in s1.to_string()
    else:
        assert s1.to_string().endswith("0123456789")


def test_bad_configuration() -> None:
    with pytest.raises(UsimError):
        Usim("12", bytes(16), opc=bytes(16))
    with pytest.raises(UsimError):
        Usim("001010000000001", bytes(15), opc=bytes(16))
    with pytest.raises(UsimError):
        Usim("001010000000001", bytes(16))
    with pytest.raises(UsimError):
        Usim("001010000000001", bytes(16), opc=bytes(16), protection_scheme=1)
    op = bytes(range(16))
    u = Usim("001010000000001", bytes(16), op=op)
    assert u.opc == milenage.compute_opc(bytes(16), op)
