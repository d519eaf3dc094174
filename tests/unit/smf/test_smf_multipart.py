"""multipart/related bodies of the SBI (TS 29.500 §6.1.2.2.2) with N1/N2 binary parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.wire.errors import DecodeError
from fivecore.wire.sbi import multipart


def test_round_trip_with_binary_parts() -> None:
    n1 = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    body, ctype = multipart.encode({"n1SmMsg": {"contentId": "n1"}, "n2SmInfo": {"contentId": "n2"}},
                                   {"n1": (multipart.NAS_5G, n1), "n2": (multipart.NGAP, b"\x00\x01")})
    assert multipart.is_multipart(ctype)
    data, parts = multipart.decode(ctype, body)
    assert multipart.ref(data, "n1SmMsg", parts) == n1
    assert parts["n2"] == (multipart.NGAP, b"\x00\x01")
    assert multipart.ref(data, "missing", parts) is None


def test_json_only_when_no_binaries() -> None:
    body, ctype = multipart.encode({"a": 1}, {})
    assert ctype == "application/json" and body == b'{"a":1}'


@pytest.mark.parametrize("ctype", ["multipart/related", "multipart/related; boundary=", 'multipart/related; boundary="x"'])
def test_malformed_bodies_raise_decode_error(ctype: str) -> None:
    with pytest.raises(DecodeError):
        multipart.decode(ctype, b"--x\r\nContent-Type: application/json\r\n\r\n{bad\r\n--x--")


@given(st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_garbage_never_escapes_as_anything_else(data: bytes) -> None:
    try:
        multipart.decode('multipart/related; boundary="b"', data)
    except DecodeError:
        pass
