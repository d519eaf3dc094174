"""PFCP codec caches (TS 29.244 §8.1.1 TLVs): a remembered leaf must decode and encode exactly
as a fresh one, and a message must read the same with the caches warm, cold or thrashed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import pfcp as n4
from fivecore.nf.smf.context import SmContext
from fivecore.wire import DecodeError, pfcp
from fivecore.wire.pfcp import codec


def _session(i: int) -> SmContext:
    sm = SmContext(f"ref{i}", f"imsi-001010000{i:06d}", 1, "internet", {"sst": 1})
    sm.ue_ipv4 = f"10.45.{(i >> 8) & 255}.{i & 255}"
    sm.local_seid = i + 1
    sm.upf_seid = 0x100 + i
    sm.ambr_ul, sm.ambr_dl = 100_000_000 + i, 200_000_000
    return sm


def _messages(i: int) -> list[pfcp.PfcpMessage]:
    sm = _session(i)
    est = n4.session_establishment(sm, seq=i + 1, node_id="127.0.0.4", cp_ip="127.0.0.4")
    sm.dl_teid, sm.dl_ip = 0x1000 + i, "10.200.1.2"
    return [est, n4.activate_downlink(sm, seq=i + 2), n4.deactivate_downlink(sm, seq=i + 3),
            n4.update_ambr(sm, seq=i + 4), n4.session_deletion(sm, seq=i + 5)]


def _cold(data: bytes) -> pfcp.PfcpMessage:
    codec._DEC_MEMO.clear()
    return pfcp.decode(data)


def test_warm_cold_and_round_trip_agree() -> None:
    for i in range(40):
        for msg in _messages(i):
            codec._LEAF_MEMO.clear()
            data = pfcp.encode(msg)
            assert pfcp.encode(msg) == data  # second encoding from the leaf cache
            warm = pfcp.decode(data)
            assert warm == pfcp.decode(data) == _cold(data)
            assert warm.ies == msg.ies
            assert pfcp.encode(warm) == data


def test_decode_cache_is_bounded() -> None:
    for i in range(3000):
        pfcp.decode(pfcp.encode(_messages(i)[0]))
    assert len(codec._DEC_MEMO) <= 4096
    assert len(codec._LEAF_MEMO) <= 4096


def test_flags_width_survives_the_cache() -> None:
    # Apply Action in 1 and in 2 octets: equal as ints, different TLVs, both remembered.
    one = pfcp.PfcpMessage.build("SessionModificationRequest", seq=1, seid=1,
                                 update_far=[pfcp.Ies(far_id=2, apply_action=pfcp.Flags(2, 1))])
    two = pfcp.PfcpMessage.build("SessionModificationRequest", seq=1, seid=1,
                                 update_far=[pfcp.Ies(far_id=2, apply_action=pfcp.Flags(2, 2))])
    for _ in range(2):
        a, b = pfcp.decode(pfcp.encode(one)), pfcp.decode(pfcp.encode(two))
        assert a.ies.update_far.apply_action.octets == 1
        assert b.ies.update_far.apply_action.octets == 2
        assert pfcp.encode(a) == pfcp.encode(one) and pfcp.encode(b) == pfcp.encode(two)


_SEED = pfcp.encode(_messages(7)[0])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_SEED) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_messages_read_the_same_with_any_cache_state(edits: list[tuple[int, int]]) -> None:
    data = bytearray(_SEED)
    for pos, val in edits:
        data[pos] = val
    raw = bytes(data)
    try:
        warm = pfcp.decode(raw)
    except DecodeError:
        try:
            _cold(raw)
        except DecodeError:
            return
        raise AssertionError("cold decode accepted what warm decode refused") from None
    assert _cold(raw) == warm
    assert pfcp.decode(raw) == warm
