"""Update PDR/FAR/QER (TS 29.244 §7.5.4): the rule copy a modification works on is a shallow copy
equal to ``copy.copy``, with only the allowed fields changed and the live rule untouched."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.nf.upf.context import Far, Pdr, Qer
from fivecore.nf.upf.procedures import _FAR_FIELDS, _PDR_FIELDS, _QER_FIELDS, _updated

_ints = st.none() | st.integers(0, 2**32 - 1)


def _far(draw: st.DrawFn) -> Far:
    return Far(far_id=draw(st.integers(1, 9)), apply_action=draw(st.integers(0, 31)),
               destination_interface=draw(st.none() | st.integers(0, 3)),
               network_instance=draw(st.none() | st.sampled_from(["internet", "ims"])),
               ohc_description=draw(st.none() | st.integers(0, 255)), ohc_teid=draw(_ints),
               ohc_ipv4=draw(st.none() | st.sampled_from(["10.0.0.1", "10.0.0.2"])),
               ohc_port=draw(st.none() | st.integers(1, 65535)))


@st.composite
def rules(draw: st.DrawFn) -> tuple[object, dict[str, object], set[str]]:
    kind = draw(st.sampled_from(["far", "qer", "pdr"]))
    if kind == "far":
        obj: object = _far(draw)
        allowed = _FAR_FIELDS
    elif kind == "qer":
        obj = Qer(qer_id=draw(st.integers(1, 9)), gate_ul=draw(st.integers(0, 1)),
                  gate_dl=draw(st.integers(0, 1)), mbr_ul_kbps=draw(_ints), mbr_dl_kbps=draw(_ints),
                  qfi=draw(st.none() | st.integers(0, 63)))
        allowed = _QER_FIELDS
    else:
        obj = Pdr(pdr_id=draw(st.integers(1, 9)), precedence=draw(st.integers(0, 255)),
                  teid=draw(_ints), far_id=draw(_ints), qer_ids=[1], urr_ids=[1, 2])
        allowed = _PDR_FIELDS
    names = sorted(type(obj).__slots__)  # type: ignore[attr-defined]
    upd = draw(st.dictionaries(st.sampled_from(names + ["not_a_field"]), st.integers(0, 99), max_size=4))
    return obj, upd, allowed


@settings(max_examples=300, deadline=None)
@given(rules())
def test_updated_equals_copy_plus_allowed_fields(case: tuple[object, dict[str, object], set[str]]) -> None:
    obj, upd, allowed = case
    before = copy.copy(obj)
    new = _updated(obj, upd, allowed)
    expected = copy.copy(obj)
    for k, v in upd.items():
        if k in allowed:
            setattr(expected, k, v)
    assert new == expected
    assert new is not obj
    assert obj == before  # the live rule is not touched
    for name in type(obj).__slots__:  # type: ignore[attr-defined]
        if name not in upd:
            assert getattr(new, name) is getattr(obj, name)  # shallow, like copy.copy
