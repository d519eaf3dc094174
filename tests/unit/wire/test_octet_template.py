"""wire.template: a template is the generic encoder's output with fields written in (or octet
strings joined in); a field that does not sit in fixed places gives no template at all."""

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
    for fields in ({"a": ("ipv4", 8)}, {"a": ("int", 9)}, {"a": ("float", 4)}, {"a": ("bytes", 0)}):
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


# --- octet strings of any width, joined in (the simulator's uplink messages) ---------------------


def _tlv(*values: bytes) -> bytes:
    """A made-up encoder: each value with a two-octet length, and a total length up front."""
    body = b"".join(len(v).to_bytes(2, "big") + v + b"\x00" for v in values)
    return b"\x7e" + len(body).to_bytes(2, "big") + body + b"\xff"


@given(values=st.lists(st.binary(min_size=1, max_size=600), min_size=1, max_size=3))
def test_join_equals_the_encoder_for_any_widths(values: list[bytes]) -> None:
    c = TemplateCache()
    for _ in range(2):  # the second call takes the cached template
        assert c.join("tlv", tuple(values), _tlv) == _tlv(*values)
    t = c.octets_template("tlv", tuple(map(len, values)), _tlv)
    assert t is not None and t.join(*values) == _tlv(*values)


def test_a_bytes_field_wider_than_256_octets() -> None:
    t = octet_template(lambda v: b"<" + v["k"] + b">", {"k": ("bytes", 1000)})
    assert t is not None
    k = bytes(range(256)) * 3 + bytes(232)
    assert t.fill({"k": k}) == t.join(k) == b"<" + k + b">"


def test_join_refuses_encoders_that_do_not_copy_the_value() -> None:
    c = TemplateCache()
    for name, enc in [("transformed", lambda v: b"\x01" + bytes(b ^ 0x55 for b in v)),
                      ("split", lambda v: v[:2] + b"--" + v[2:]),
                      ("checksum", lambda v: bytes((len(v),)) + v + bytes((sum(v) & 0xFF,))),
                      ("reversed", lambda v: v[::-1]),
                      ("nibbles", lambda v: bytes(((b & 0xF) << 4) | (b >> 4) for b in v))]:
        assert c.octets_template(name, (4,), enc) is None, name
        # no template: the encoder itself answers
        assert c.join(name, (b"abcd",), enc) == enc(b"abcd")


def test_join_puts_values_where_the_encoder_does() -> None:
    c = TemplateCache()
    swapped = c.octets_template("swapped", (2, 3), lambda a, b: b"<" + b + b"|" + a + b">")
    assert swapped is not None and swapped.join(b"ab", b"cde") == b"<cde|ab>"
    twice = c.octets_template("twice", (2, 1), lambda a, b: a + b + a)
    assert twice is not None and twice.join(b"xy", b"z") == b"xyzxy"
    for bad in [(b"abc", b"cde"), (b"ab",), (b"ab", b"cd", b"e")]:
        with pytest.raises(ValueError):
            swapped.join(*bad)


def test_an_empty_value_has_no_template_and_takes_the_encoder() -> None:
    c = TemplateCache()
    assert c.octets_template("e", (0,), _tlv) is None
    assert c.join("e", (b"",), _tlv) == _tlv(b"")
    assert c.join("e", (b"a", b""), _tlv) == _tlv(b"a", b"")


def test_an_encoder_that_refuses_the_probes_still_answers_real_values() -> None:
    def picky(v: bytes) -> bytes:  # takes only ASCII digits
        if not v.isdigit():
            raise EncodeError("digits only")
        return b"#" + v

    c = TemplateCache()
    assert c.join("p", (b"1234",), picky) == b"#1234"
    with pytest.raises(EncodeError):
        c.join("p", (b"12x4",), picky)
