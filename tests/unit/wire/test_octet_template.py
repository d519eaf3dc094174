"""wire.nas.template: a template is the generic encoder's output with fields written in; a
field that does not sit in fixed places gives no template at all."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.wire.errors import EncodeError
from fivecore.wire.template import TemplateCache, octet_template


def _msg(v: dict) -> bytes:
    return b"\x7e\x00" + struct.pack("!HI", v["a"], v["b"]) + bytes(v["ip"].encode()[:0]) + \
        bytes(int(x) for x in v["ip"].split(".")) + v["k"] + b"\xff"


FIELDS = {"a": ("int", 2), "b": ("int", 4), "ip": ("ipv4", 4), "k": ("bytes", 3)}


@given(a=st.integers(0, 0xFFFF), b=st.integers(0, 2**32 - 1), ip=st.tuples(*[st.integers(0, 255)] * 4),
       k=st.binary(min_size=3, max_size=3))
def test_fill_equals_the_encoder(a: int, b: int, ip: tuple[int, ...], k: bytes) -> None:
    t = octet_template(_msg, FIELDS)
    assert t is not None
    v = {"a": a, "b": b, "ip": ".".join(map(str, ip)), "k": k}
    assert t.fill(v) == _msg(v)


def test_values_a_template_cannot_take() -> None:
    t = octet_template(_msg, FIELDS)
    assert t is not None
    ok = {"a": 1, "b": 2, "ip": "1.2.3.4", "k": b"abc"}
    for bad, exc in [({"a": -1}, OverflowError), ({"a": 0x10000}, OverflowError), ({"ip": "1.2.3"}, OSError),
                     ({"k": b"ab"}, TypeError), ({"b": "2"}, OSError), ({"b": 2.0}, TypeError)]:
        with pytest.raises(exc):
            t.fill({**ok, **bad})


def test_a_variable_length_field_gives_no_template() -> None:
    def varlen(v: dict) -> bytes:  # the length depends on the value
        n = v["a"]
        return bytes((1,)) + n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")

    assert octet_template(varlen, {"a": ("int", 2)}) is None


def test_a_derived_octet_gives_no_template() -> None:
    def checksum(v: dict) -> bytes:  # a field that also changes another octet
        body = v["a"].to_bytes(2, "big")
        return body + bytes((sum(body) & 0xFF,))

    assert octet_template(checksum, {"a": ("int", 2)}) is None


def test_an_encoder_error_gives_no_template() -> None:
    def refuses(v: dict) -> bytes:
        raise EncodeError("no")

    assert octet_template(refuses, {"a": ("int", 1)}) is None


def test_unsupported_field_kinds_are_a_programming_error() -> None:
    for fields in ({"a": ("ipv4", 8)}, {"a": ("int", 9)}, {"a": ("float", 4)}):
        with pytest.raises(ValueError):
            octet_template(_msg, fields)


def test_cache_is_bounded_and_remembers_refusals() -> None:
    calls = []

    def enc(v: dict) -> bytes:
        calls.append(1)
        return v["a"].to_bytes(1, "big")

    c = TemplateCache(limit=2)
    t1 = c.get("k1", enc, {"a": ("int", 1)})
    n = len(calls)
    assert c.get("k1", enc, {"a": ("int", 1)}) is t1 and len(calls) == n
    c.get("k2", enc, {"a": ("int", 1)})
    c.get("k3", enc, {"a": ("int", 1)})
    assert len(c._t) <= 2
