"""The UE file's UERANSIM-style ``sessions:`` list (type IPv4 | IPv6 | IPv4v6, apn, slice) read
into what ``UserPlane.establish`` is asked for: PSI, PDU session type (TS 24.501 §9.11.4.11),
DNN and S-NSSAI."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.errors import ConfigError, FivecoreError
from fivecore.nf.smf import gsm
from fivecore.ran.app import RanSim
from fivecore.ran.config import SessionTemplate, load_ran_config, parse_ue
from fivecore.ran.userplane import UeSm
from fivecore.wire import nas


def _ue(**kw: Any) -> dict[str, Any]:
    return {"supi": "imsi-001010000000001", "default-nssai": [{"sst": 1, "sd": 1}], **kw}


def test_types_map_to_pdu_session_type_values() -> None:
    t = parse_ue(_ue(sessions=[{"type": "IPv4", "apn": "internet", "slice": {"sst": 1}},
                               {"type": "IPv6", "apn": "ims", "slice": {"sst": 2, "sd": "0000aa"}},
                               {"type": "IPv4v6"}, {"apn": "corp"}]))
    assert t.sessions == (
        SessionTemplate(1, 1, "internet", (1, None)),
        SessionTemplate(2, 2, "ims", (2, 0xAA)),
        SessionTemplate(3, 3, "internet", (1, 1)),   # slice: the first default-nssai entry
        SessionTemplate(4, 1, "corp", (1, 1)),       # type: IPv4 by default
    )
    assert [s.type_name for s in t.sessions] == ["IPv4", "IPv6", "IPv4v6", "IPv4"]
    assert t.profile.dnn == "internet"  # the registration's DNN is the first session's


def test_each_type_goes_into_the_establishment_request() -> None:
    """The UE's PDU Session Establishment Request (TS 24.501 §8.3.1) carries the type, and the
    values are the ones the SMF reads (fivecore.nf.smf.gsm)."""
    t = parse_ue(_ue(sessions=[{"type": "IPv4"}, {"type": "IPv6"}, {"type": "IPv4v6"}]))
    sm = UeSm()
    for s, want in zip(t.sessions, (gsm.PDU_IPV4, gsm.PDU_IPV6, gsm.PDU_IPV4V6), strict=True):
        msg = nas.decode(sm.establish(s.psi, s.dnn, s.snssai, s.pdu_type))
        assert msg.pdu_session_type == want and msg.pdu_session_id == s.psi


def test_no_sessions_list_asks_for_none() -> None:
    t = parse_ue(_ue())
    assert t.sessions == () and t.profile.dnn == "internet"


@pytest.mark.parametrize(("sessions", "where"), [
    ([{"type": "IPv5"}], "ue.sessions[0].type"),
    ([{"type": 4}], "ue.sessions[0].type"),
    ([{"type": "IPv4"}, {"type": "Ethernet"}], "ue.sessions[1].type"),
    ([{"apn": ""}], "ue.sessions[0].apn"),
    ([{"apn": "in ternet"}], "ue.sessions[0].apn"),
    ([{"slice": {"sd": 1}}], "ue.sessions[0].slice"),
    ([{"slice": {"sst": "x"}}], "ue.sessions[0].slice"),
    ([{"slice": {"sst": 1, "sd": "zz"}}], "ue.sessions[0].slice"),
    ([{"slice": {"sst": 256}}], "ue.sessions[0].slice"),
    ([{"slice": {"sst": 1, "sd": 0x1000000}}], "ue.sessions[0].slice"),
    ([{"slice": [1]}], "ue.sessions[0].slice"),
    ([{"qos": 9}], "ue.sessions[0].qos"),
    ([{"emergency": True}], "ue.sessions[0].emergency"),
    (["IPv4"], "ue.sessions[0]"),
    ({"type": "IPv4"}, "ue.sessions"),
    ([{"type": "IPv4"}] * 16, "ue.sessions"),
])
def test_bad_sessions_name_the_entry(sessions: Any, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_ue(_ue(sessions=sessions))
    assert str(e.value).startswith(where)


def test_case_of_type_names_does_not_matter() -> None:
    t = parse_ue(_ue(sessions=[{"type": "ipv6"}, {"type": "IPV4V6"}]))
    assert [s.pdu_type for s in t.sessions] == [2, 3]


def test_each_ue_gets_the_sessions_of_its_own_file() -> None:
    cfg = load_ran_config({"ues": [_ue(sessions=[{"type": "IPv6"}]),
                                   _ue(supi="imsi-001010000000100", sessions=[{"type": "IPv4"}, {"type": "IPv4v6"}])]})
    sim = RanSim(cfg, n_gnbs=1, n_ues=4)
    plans = {ru.ue.supi: [s.pdu_type for s in sim.session_plan(ru)] for ru in sim.ues}
    assert plans == {"imsi-001010000000001": [2], "imsi-001010000000002": [2],
                     "imsi-001010000000100": [1, 3], "imsi-001010000000101": [1, 3]}


_value = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                      lambda c: st.lists(c, max_size=3) | st.dictionaries(
                          st.sampled_from(["type", "apn", "dnn", "slice", "sst", "sd", "x"]), c, max_size=4),
                      max_leaves=10)


_slice = st.dictionaries(st.sampled_from(["sst", "sd"]), st.none() | st.integers(-5, 1 << 25) | st.text(max_size=7),
                         max_size=2)
_entry = st.fixed_dictionaries({}, optional={"type": st.sampled_from(["IPv4", "ipv6", "IPv4v6", "x"]) | _value,
                                             "apn": _value, "slice": _slice | _value})


@settings(max_examples=300)
@given(sessions=_value | st.lists(_entry, max_size=4))
def test_any_sessions_value_is_parsed_or_a_config_error(sessions: Any) -> None:
    try:
        t = parse_ue(_ue(sessions=sessions))
    except ConfigError:
        return
    assert all(s.pdu_type in (1, 2, 3) and 1 <= s.psi <= 15 for s in t.sessions)


def test_n3_addresses_count_up_and_bad_ones_are_user_errors() -> None:
    from fivecore.cli.ran import n3_addresses

    assert n3_addresses("127.0.1.1", 3) == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    with pytest.raises(FivecoreError, match="--n3-address"):
        n3_addresses("127.0.1.x", 1)
    with pytest.raises(FivecoreError, match="--n3-address"):
        n3_addresses("255.255.255.255", 2)
