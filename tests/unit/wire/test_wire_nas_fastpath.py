"""NAS codec shortcuts against their plain forms: the IE decode memo (only immutable values are
shared), the IE ordering of built messages, the PLMN conversion caches."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.wire import DecodeError, nas, samples
from fivecore.wire.nas import codec


def _deep_frozen(v: object) -> bool:
    if v is None or isinstance(v, int | str | bytes | float):
        return True
    if isinstance(v, tuple | frozenset):
        return all(_deep_frozen(x) for x in v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return type(v).__dataclass_params__.frozen and all(  # type: ignore[attr-defined]
            _deep_frozen(getattr(v, f.name)) for f in dataclasses.fields(v))
    return False


def _memo_ies() -> list[tuple[str, str, object, bytes]]:
    out = []
    for msg in samples.nas_samples():
        raw = nas.encode(msg)
        spec = codec._BY_CODE[(raw[0], raw[2] if raw[0] == codec.EPD_5GMM else raw[3])]
        for name, v in nas.decode(raw).ies.items():
            ie = spec.by_name.get(name)
            if ie is not None and ie.kind in codec._MEMO_KINDS:
                out.append((msg.message_type, name, v, ie.enc(v)))
    return out


def test_every_memoised_kind_is_seen_in_the_samples_and_is_immutable() -> None:
    seen = _memo_ies()
    kinds = {codec._BY_NAME[m].by_name[n].kind for m, n, _v, _b in seen}
    assert kinds >= codec._MEMO_KINDS - {"snssai"}  # S-NSSAI alone: 5GSM/UL NAS Transport
    for msg, name, v, _b in seen:
        assert _deep_frozen(v), (msg, name, v)


def test_memoised_decoders_give_what_the_plain_ones_give() -> None:
    for msg, name, v, contents in _memo_ies():
        ie = codec._BY_NAME[msg].by_name[name]
        plain = codec.KINDS[ie.kind].dec
        assert ie.dec(contents) == plain(contents) == v
        assert ie.dec(contents) == v  # a hit


def test_a_malformed_value_is_not_remembered() -> None:
    dec = codec._MEMO_DECODERS["tai_list"]
    with pytest.raises(DecodeError):
        dec(b"")
    with pytest.raises(DecodeError):
        dec(b"")
    ok = codec.KINDS["tai_list"].enc(nas.TaiList.of(nas.Tai("00101", 1)))
    assert dec(ok) == codec.KINDS["tai_list"].dec(ok)


def _reference_order(msg_type: str, given_ies: dict[str, object]) -> list[str]:
    """The ordering NasMessage used before its one-pass form: a stable sort by table index."""
    by_name = codec._BY_NAME[msg_type].by_name
    return sorted((k for k, v in given_ies.items() if v is not None),
                  key=lambda k: by_name[k].index if k in by_name else 1 << 20)


@given(data=st.data(), msg_type=st.sampled_from(sorted(codec._BY_NAME)))
@settings(max_examples=400, deadline=None)
def test_built_messages_order_ies_like_a_stable_sort_by_table_index(data: st.DataObject, msg_type: str) -> None:
    names = list(codec._BY_NAME[msg_type].by_name)
    picked = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    extras = data.draw(st.lists(st.sampled_from(["_x1", "_x2", "_x3"]), unique=True, max_size=2))
    keys = data.draw(st.permutations(picked + extras))
    given_ies: dict[str, object] = {}
    for k in keys:
        if k.startswith("_x"):
            given_ies[k] = nas.RawIe(0x7F, b"\x7f\x00\x00")
        else:
            given_ies[k] = data.draw(st.sampled_from([None, 1]))
    msg = nas.NasMessage(msg_type, given_ies)
    assert list(msg.ies) == _reference_order(msg_type, given_ies)


def test_plmn_caches_agree_with_the_conversion_and_refuse_bad_digits() -> None:
    from fivecore.wire.nas import ies

    for plmn in ("00101", "310410", "99999", "001010"):
        b = ies.plmn_to_bytes(plmn)
        assert ies.plmn_to_bytes(plmn) == b
        assert ies.plmn_from_bytes(b) == ies.plmn_from_bytes(b"\x00" + b, 1) == plmn
    for bad in ("0010", "abcde", "0010x"):
        with pytest.raises(nas.EncodeError):
            ies.plmn_to_bytes(bad)
    with pytest.raises(DecodeError):
        ies.plmn_from_bytes(b"\xaa\xf1\x10")
    with pytest.raises(DecodeError):
        ies.plmn_from_bytes(b"\x00\xf1")


@given(addr=st.binary(min_size=4, max_size=4), iid=st.binary(min_size=8, max_size=8))
@settings(max_examples=300, deadline=None)
def test_pdu_address_text_is_what_ipaddress_writes(addr: bytes, iid: bytes) -> None:
    import ipaddress

    want = str(ipaddress.IPv4Address(addr))
    assert nas.PduAddress(1, addr).ipv4_address == want
    assert nas.PduAddress(3, iid + addr).ipv4_address == want
    assert nas.PduAddress(2, iid).ipv4_address is None
