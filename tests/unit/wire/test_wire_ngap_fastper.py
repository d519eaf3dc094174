"""The compiled APER codec (fivecore.wire.ngap.fastper) against plain pycrate (the reference).

Values come from pycrate itself: random octets decoded by pycrate (without the trailing-octets
check) and re-encoded give a valid canonical encoding of a random value; the compiled codec must
decode it to the same value (same dict order) and encode the value to the same octets, or say
:class:`fastper.Slow` and leave it to pycrate. On arbitrary octets it may only succeed where
pycrate succeeds with the same value.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrate_asn1rt.codecs import ASN1CodecPER
from pycrate_core.charpy import Charpy

from fivecore.wire import DecodeError, EncodeError, ngap
from fivecore.wire.ngap import codec, fastper


def _compiled_defs() -> dict[str, codec._IeDef]:
    out: dict[str, codec._IeDef] = {}
    for p in codec._PROCS.values():
        for m in p.messages.values():
            for d in m.by_id.values():
                if codec._per_of(d) is not None:
                    out.setdefault(d.type_name, d)
    # and the IEs of the ...Transfer containers (UL-NGU-UP-TNLInformation ...)
    for tname in dir(codec._NGAP.NGAP_IEs):
        if tname.endswith("Transfer"):
            name = tname.replace("_", "-")
            md = codec._container_def(name, codec._ie_type(name))
            for d in md.by_id.values() if md is not None else ():
                if codec._per_of(d) is not None:
                    out.setdefault(d.type_name, d)
    return dict(sorted(out.items()))


DEFS = _compiled_defs()
NAMES = list(DEFS)


def _loose_pycrate(obj: object, raw: bytes) -> object | None:
    depth = len(ASN1CodecPER._off)
    try:
        obj.from_aper(Charpy(raw))  # type: ignore[attr-defined]
        return obj.get_val()  # type: ignore[attr-defined]
    except Exception:
        return None
    finally:
        del ASN1CodecPER._off[depth:]


def _same(a: object, b: object) -> bool:
    """Equal, and dicts in the same key order (the order pycrate decodes in)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_most_ies_compile_and_odd_types_do_not() -> None:
    assert len(DEFS) > 100
    for name in ("UPTransportLayerInformation", "SecurityKey", "PDUSessionResourceSetupListSUReq",
                 "PDUSessionResourceSetupListSURes", "GUAMI", "AllowedNSSAI", "UserLocationInformation"):
        assert name in DEFS, name
    assert codec._type_per("PDUSessionResourceSetupResponseTransfer",
                           codec._ie_type("PDUSessionResourceSetupResponseTransfer")) is not None
    # a PrintableString is pycrate's
    assert fastper.compile_type(codec._ie_type("AMFName")) is None


@given(name=st.sampled_from(NAMES), raw=st.binary(min_size=1, max_size=96), clear_ext=st.booleans())
@settings(max_examples=3000, deadline=None)
def test_valid_encodings_match_pycrate(name: str, raw: bytes, clear_ext: bool) -> None:
    d = DEFS[name]
    if clear_ext:  # leading extension bits clear: root values, the ones the fast path handles
        raw = bytes((raw[0] & 0x3F,)) + raw[1:]
    v = _loose_pycrate(d.obj, raw)
    if v is None:
        return
    try:
        canon = codec._asn1_encode(d.obj, v, "ref")
    except EncodeError:
        return
    try:
        ref = codec._asn1_decode(d.obj, canon)
    except DecodeError:
        return  # pycrate cannot read back its own encoding of this value: no reference
    per = codec._per_of(d)
    assert per is not None
    enc, dec = per
    try:
        got = dec(canon)
    except fastper.Slow:
        pass
    else:
        assert _same(got, ref), (name, canon.hex())
    try:
        assert enc(ref) == canon, (name, ref)
    except fastper.Slow:
        pass


@given(name=st.sampled_from(NAMES), raw=st.binary(max_size=40))
@settings(max_examples=2000, deadline=None)
def test_any_octets_decode_like_pycrate_or_go_to_it(name: str, raw: bytes) -> None:
    d = DEFS[name]
    assert codec._per_of(d) is not None
    try:
        got = codec._per_of(d)[1](raw)
    except fastper.Slow:
        return
    assert _same(got, codec._asn1_decode(d.obj, raw)), (name, raw.hex())


@given(name=st.sampled_from(NAMES), v=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 2**70), st.binary(max_size=5), st.text(max_size=5)),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.tuples(kids, kids),
                           st.dictionaries(st.text(max_size=4), kids, max_size=3)), max_leaves=8))
@settings(max_examples=1500, deadline=None)
def test_odd_values_are_refused_or_encoded_like_pycrate(name: str, v: object) -> None:
    d = DEFS[name]
    assert codec._per_of(d) is not None
    try:
        got = codec._per_of(d)[0](v)
    except fastper.Slow:
        return
    assert got == codec._asn1_encode(d.obj, v, "ref")


@pytest.mark.parametrize("ip", ["127.0.0.7", "10.45.0.1", "2001:db8::1"])
@pytest.mark.parametrize("teid", [0, 1, 0xDEADBEEF, 2**32 - 1])
def test_gtp_tunnel_and_transfers(ip: str, teid: int) -> None:
    d = DEFS["UPTransportLayerInformation"]
    v = ngap.gtp_tunnel(ip, teid)
    raw = codec._asn1_encode(d.obj, v, "ref")
    per = codec._per_of(d)
    assert per is not None and per[0](v) == raw and per[1](raw) == v
    rsp = {"dLQosFlowPerTNLInformation": {"uPTransportLayerInformation": v,
                                           "associatedQosFlowList": [{"qosFlowIdentifier": q} for q in (1, 5, 63)]}}
    obj = codec._ie_type("PDUSessionResourceSetupResponseTransfer")
    want = codec._asn1_encode(obj, rsp, "ref")
    assert ngap.encode_ie("PDUSessionResourceSetupResponseTransfer", rsp) == want
    assert ngap.decode_ie("PDUSessionResourceSetupResponseTransfer", want) == codec._asn1_decode(obj, want)


def test_security_key_and_session_lists() -> None:
    key = (int.from_bytes(bytes(range(32)), "big"), 256)
    d = DEFS["SecurityKey"]
    per = codec._per_of(d)
    assert per is not None and per[0](key) == codec._asn1_encode(d.obj, key, "ref")
    items = [{"pDUSessionID": 5, "pDUSessionNAS-PDU": b"\x7e\x02" * 70, "s-NSSAI": {"sST": b"\x01", "sD": b"\x00\x00\x01"},
              "pDUSessionResourceSetupRequestTransfer": b"\x00" * 200},
             {"pDUSessionID": 6, "s-NSSAI": {"sST": b"\x02"}, "pDUSessionResourceSetupRequestTransfer": b"\x01"}]
    d = DEFS["PDUSessionResourceSetupListSUReq"]
    raw = codec._asn1_encode(d.obj, items, "ref")
    per = codec._per_of(d)
    assert per is not None and per[0](items) == raw
    assert _same(per[1](raw), codec._asn1_decode(d.obj, raw))
    res = [{"pDUSessionID": 5, "pDUSessionResourceSetupResponseTransfer": b"\x00\x03\xe0" * 50}]
    d = DEFS["PDUSessionResourceSetupListSURes"]
    per = codec._per_of(d)
    assert per is not None and per[0](res) == codec._asn1_encode(d.obj, res, "ref")


def test_slow_cases_still_encode_and_decode_through_pycrate() -> None:
    d = DEFS["PDUSessionResourceSetupListSURes"]
    big = [{"pDUSessionID": 1, "pDUSessionResourceSetupResponseTransfer": b"\x00" * 17000}]  # fragmented length
    assert codec._per_of(d) is not None
    with pytest.raises(fastper.Slow):
        codec._per_of(d)[0](big)
    raw = codec._ie_encode(d, big, "x")
    assert raw == codec._asn1_encode(d.obj, big, "ref")
    d = DEFS["UPTransportLayerInformation"]
    assert codec._per_of(d) is not None
    with pytest.raises(fastper.Slow):
        codec._per_of(d)[0](("gTPTunnel", {"transportLayerAddress": (1, 200), "gTP-TEID": b"\x00" * 4}))  # extension size
    with pytest.raises((DecodeError, EncodeError)):
        codec._ie_encode(d, ("gTPTunnel", {"transportLayerAddress": (1, 32)}), "x")  # TEID missing
    # a fragmented length (X.691 §11.9.3.8) is pycrate's, including the invalid multiplier 0
    obj = codec._ie_type("PDUSessionResourceSetupListSURes")
    per = fastper.compile_type(obj)
    assert per is not None
    for prefix in (b"\xc0", b"\xc1"):
        with pytest.raises(fastper.Slow):
            per[1](b"\x00\x00\x05" + prefix + b"\x00" * 40)


@given(teid=st.integers(0, 2**32 - 1), ip=st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
@settings(max_examples=200, deadline=None)
def test_gtp_tunnel_helpers_with_their_address_caches(teid: int, ip: object) -> None:
    import ipaddress

    text = str(ip)
    for _ in range(2):  # a miss, then a hit
        v = ngap.gtp_tunnel(text, teid)
        packed = ipaddress.ip_address(text).packed
        assert v == ("gTPTunnel", {"transportLayerAddress": (int.from_bytes(packed, "big"), len(packed) * 8),
                                   "gTP-TEID": teid.to_bytes(4, "big")})
        assert ngap.gtp_tunnel_from(v) == (text, teid)
    with pytest.raises(ValueError):
        ngap.gtp_tunnel("not-an-address", teid)
    with pytest.raises(DecodeError):
        ngap.gtp_tunnel_from(("gTPTunnel", {"transportLayerAddress": (1, 33), "gTP-TEID": b"\0" * 4}))


def test_a_large_session_list_matches_pycrate() -> None:
    """Tens of KB in one IE value (the reader and writer work octet by octet, not on one big int)."""
    items = [{"pDUSessionID": i, "pDUSessionNAS-PDU": bytes([i]) * 300, "s-NSSAI": {"sST": b"\x01"},
              "pDUSessionResourceSetupRequestTransfer": bytes([255 - i]) * 150} for i in range(64)]
    d = DEFS["PDUSessionResourceSetupListSUReq"]
    per = codec._per_of(d)
    assert per is not None
    raw = per[0](items)
    assert len(raw) > 16384
    assert raw == codec._asn1_encode(d.obj, items, "ref")
    assert per[1](raw) == items
