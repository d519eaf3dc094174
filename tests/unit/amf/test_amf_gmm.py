"""5GMM on the AMF side (fivecore.nf.amf.gmm), sans-I/O: plain calls, no sockets, no clock.

The peer is the simulator's UE state machine and a home network doing real 5G-AKA arithmetic
(tests/unit/amf/homenet.py); every message crosses the real NAS codec and NAS security.
"""

from __future__ import annotations

import pytest
from homenet import make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.amf.context import GmmState
from fivecore.nf.amf.gmm import ReleaseUe, SbiCall, SbiFailure, SendNas
from fivecore.ran.ue import UeState
from fivecore.wire.nas import codec


def msg_type(pdu: bytes) -> str:
    m = codec.decode(pdu)
    if m.message_type == "SecurityProtected":
        if m.ciphered:
            return "(ciphered)"
        m = m.plain()
    return m.message_type


@pytest.mark.parametrize("scheme", [0, 1, 2])
def test_initial_registration_each_suci_scheme(scheme: int) -> None:
    loop, (ue,) = make(schemes=(scheme,))
    amf_ue = loop.register(ue)
    assert ue.state == UeState.REGISTERED
    assert amf_ue.state == GmmState.REGISTERED
    assert amf_ue.supi == ue.supi
    assert amf_ue.suci_scheme == scheme
    assert ue.guti is not None and ue.guti.tmsi == amf_ue.tmsi
    assert loop.gmm.ctx.by_tmsi[amf_ue.tmsi] is amf_ue
    assert ue.allowed_nssai == ((1, None),)
    assert ue.t3512 == 3600  # 54 min rounded up to what GPRS timer 3 can say (TS 24.008)
    assert loop.hn.calls == ["auth", "confirm", "udm_register"]
    assert len(loop.ics) == 1
    assert loop.releases and loop.releases[-1].cause == ("nas", "normal-release")
    assert not loop.timers, "T3560/T3550 stopped once answered"
    assert loop.gmm.ctx.stats[f"suci_scheme_{scheme}"] == 1


def test_security_mode_picks_by_priority_and_never_nia0() -> None:
    loop, (ue,) = make(gmm_kw={"integrity_order": (1, 2), "ciphering_order": (3, 2)}, nea=(0, 2), nia=(2, 1))
    amf_ue = loop.register(ue)
    assert ue.state == UeState.REGISTERED
    assert (amf_ue.nr_int_alg, amf_ue.nr_enc_alg) == (1, 2)
    assert ue.sec.int_alg == 1 and ue.sec.enc_alg == 2


def test_nia0_only_ue_rejected_with_cause_23() -> None:
    loop, (ue,) = make(nia=(0,))
    loop.register(ue)
    assert ue.state == UeState.DEREGISTERED
    assert ue.last_cause == 23
    assert loop.hn.calls == [], "no authentication for a UE that cannot be protected"


def test_nea0_only_if_configured() -> None:
    loop, (ue,) = make(nea=(0,))
    loop.register(ue)
    assert ue.last_cause == 23
    loop2, (ue2,) = make(nea=(0,), gmm_kw={"ciphering_order": (2, 0)})
    amf_ue = loop2.register(ue2)
    assert ue2.state == UeState.REGISTERED and amf_ue.nr_enc_alg == 0


def test_reregistration_with_guti_skips_authentication() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue)
    old_tmsi = ue.guti.tmsi
    loop.hn.calls.clear()
    again = loop.register(ue)
    assert again is amf_ue, "the NG connection is bound to the existing context"
    assert ue.state == UeState.REGISTERED
    assert loop.hn.calls == ["udm_register"]
    assert ue.guti.tmsi != old_tmsi and old_tmsi not in loop.gmm.ctx.by_tmsi
    assert loop.gmm.ctx.stats["registration_without_auth"] == 1


def test_unknown_guti_runs_identity_procedure() -> None:
    from fivecore.wire.nas.ies import MobileIdentity

    loop, (ue,) = make()
    ue.guti = MobileIdentity.guti("00101", 2, 1, 0, 0x12345678)
    loop.register(ue)
    assert ue.state == UeState.REGISTERED
    assert loop.gmm.ctx.stats["identity_procedure"] == 1
    assert any(msg_type(p) == "IdentityRequest" for p in loop.downlinks)


def test_wrong_k_mac_failure_gets_authentication_reject() -> None:
    loop, (ue,) = make(ue_k=bytes(16))
    loop.register(ue)
    assert ue.state == UeState.DEREGISTERED
    assert ue.last_cause == 20
    assert ue.stats["authentication_reject"] == 1
    assert msg_type(loop.downlinks[-1]) == "AuthenticationReject"
    assert loop.gmm.ctx.stats["auth_failure_20"] == 1
    assert not loop.gmm.ctx.ues, "nothing kept of a UE that failed authentication"


def test_stale_sqn_resynchronises() -> None:
    loop, (ue,) = make(ue_sqn=1 << 36)
    loop.register(ue)
    assert ue.state == UeState.REGISTERED
    assert ue.stats["synch_failure_sent"] == 1
    assert loop.hn.calls == ["auth", "auth", "confirm", "udm_register"]
    assert loop.gmm.ctx.stats["auth_resync"] == 1


def test_second_synch_failure_is_rejected() -> None:
    loop, (ue,) = make(ue_sqn=1 << 36)
    original = loop.hn.handle

    def no_resync(op, args):
        args = {k: v for k, v in args.items() if k != "resync"}
        return original(op, args)

    loop.hn.handle = no_resync
    loop.register(ue)
    assert ue.state == UeState.DEREGISTERED
    assert msg_type(loop.downlinks[-1]) == "AuthenticationReject"


def test_t3560_retransmits_four_times_then_aborts() -> None:
    loop, (ue,) = make()
    loop.drop_uplink = 10
    amf_ue = loop.register(ue)
    first = loop.downlinks[-1]
    assert msg_type(first) == "AuthenticationRequest"
    for _ in range(4):
        loop.fire(ue, amf_ue, "T3560")
        assert loop.downlinks[-1] == first
    n = len(loop.downlinks)
    loop.fire(ue, amf_ue, "T3560")
    assert len(loop.downlinks) == n, "no fifth retransmission"
    assert isinstance(loop.releases[-1], ReleaseUe)
    assert loop.gmm.ctx.stats["auth_aborted"] == 1


def test_t3550_retransmission_then_complete() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    # a periodic registration update whose Registration Complete is lost once
    amf_ue, acts = loop.gmm.initial_ue_message(loop.gnb, 99, ue.register(reg_type=3), 1)
    loop.drop_uplink = 1
    loop.run(ue, acts)
    assert ue.state == UeState.REGISTERED
    assert amf_ue.proc is not None and amf_ue.proc.name == "registration_accept"
    assert ue.guti.tmsi != amf_ue.tmsi
    loop.fire(ue, amf_ue, "T3550")
    assert amf_ue.proc is None and ue.guti.tmsi == amf_ue.tmsi


def test_replayed_and_tampered_uplink_dropped() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    assert ue.connected and not loop.releases
    reg_complete = loop.uplinks[-1]
    assert loop.gmm.uplink_nas(amf_ue, reg_complete) == []
    assert loop.gmm.ctx.stats["nas_replay"] == 1
    fresh = ue.deregister()
    tampered = bytearray(fresh)
    tampered[-1] ^= 1
    assert loop.gmm.uplink_nas(amf_ue, bytes(tampered)) == []
    assert loop.gmm.ctx.stats["nas_bad_mac"] == 1
    assert amf_ue.state == GmmState.REGISTERED
    loop.run(ue, loop.gmm.uplink_nas(amf_ue, fresh))
    assert amf_ue.state == GmmState.DEREGISTERED and ue.state == UeState.DEREGISTERED


def test_plain_message_after_security_is_discarded() -> None:
    from fivecore.ran import nas_io

    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    plain_dereg = nas_io.deregistration_request(False, 0, ue.guti)
    assert loop.gmm.uplink_nas(amf_ue, plain_dereg) == []
    assert amf_ue.state == GmmState.REGISTERED
    assert loop.gmm.ctx.stats["nas_unprotected_dropped"] == 1


@pytest.mark.parametrize(("garbage", "cause"), [(b"\x7e\x00\xff\x00", 97), (b"\x7e\x00\x41", 96), (b"\x01\x02\x03", 96)])
def test_nas_garbage_gets_5gmm_status(garbage: bytes, cause: int) -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    acts = loop.gmm.uplink_nas(amf_ue, garbage)
    assert len(acts) == 1 and isinstance(acts[0], SendNas)
    loop.run(ue, acts)
    assert ue.nas_status_received == 1
    assert ue.last_cause == cause
    assert amf_ue.state == GmmState.REGISTERED


def test_ue_deregistration_switch_off_and_normal() -> None:
    loop, (a, b) = make(2)
    ua = loop.register(a)
    ub = loop.register(b)
    loop.initial(a, a.deregister(switch_off=True))
    assert ua.state == GmmState.DEREGISTERED
    assert not any(msg_type(p) == "DeregistrationAcceptUEOriginating" for p in loop.downlinks[-1:])
    loop.initial(b, b.deregister())
    assert ub.state == GmmState.DEREGISTERED and b.state == UeState.DEREGISTERED
    assert loop.hn.uecm == set()


def test_network_initiated_deregistration_with_t3522() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    loop.drop_uplink = 1
    loop.run(ue, loop.gmm.deregister(amf_ue, cause=None))
    assert amf_ue.state == GmmState.DEREGISTERED_INITIATED
    assert ue.state == UeState.DEREGISTERED
    loop.drop_uplink = 0
    ue.state = UeState.REGISTERED  # the UE lost its answer; it will answer the retransmission
    loop.fire(ue, amf_ue, "T3522")
    assert amf_ue.state == GmmState.DEREGISTERED


def test_service_request_from_idle() -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue)
    assert not ue.connected
    n = len(loop.ics)
    back = loop.initial(ue, ue.service_request())
    assert back is amf_ue and ue.state == UeState.REGISTERED
    assert len(loop.ics) == n + 1
    assert loop.gmm.ctx.stats["service_request"] == 1


def test_service_request_unknown_identity_rejected() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    loop.gmm.ctx.by_tmsi.clear()
    loop.initial(ue, ue.service_request())
    assert ue.last_cause == 9 and ue.state == UeState.DEREGISTERED


def test_sbi_failures_map_to_causes() -> None:
    loop, (ue,) = make()
    loop.hn.subs.clear()
    loop.register(ue)
    assert ue.last_cause == 3
    loop2, (ue2,) = make()
    loop2.hn.handle = lambda op, args: SbiFailure(504, "TIMED_OUT_REQUEST")
    loop2.register(ue2)
    assert ue2.last_cause == 22


def test_stale_sbi_answer_is_ignored() -> None:
    loop, (ue,) = make()
    amf_ue, acts = loop.gmm.initial_ue_message(loop.gnb, 1, ue.register(), 1)
    (call,) = [a for a in acts if isinstance(a, SbiCall)]
    amf_ue.new_procedure("registration")
    assert loop.gmm.sbi_result(amf_ue, call.token, call.op, loop.hn.handle(call.op, call.args)) == []
    assert loop.gmm.ctx.stats["sbi_stale"] == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=80))
def test_fuzz_uplink_never_raises(data: bytes) -> None:
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    loop.gmm.uplink_nas(amf_ue, data)
    loop.gmm.uplink_nas(amf_ue, b"\x7e\x02" + data)
    loop.gmm.initial_ue_message(loop.gnb, 77, data, 1)
    loop.gmm.initial_ue_message(loop.gnb, 78, b"\x7e\x01" + data, 1)
    assert amf_ue.state == GmmState.REGISTERED


def test_restricted_gnb_profile_is_enforced() -> None:
    """Issue 10: behind an allow-restricted gNB, no null-scheme SUCI and no NEA0."""
    from fivecore.trust.decision import RestrictedProfile

    loop, (null_ue, a_ue) = make(2, schemes=(0, 1), gmm_kw={"ciphering_order": (0, 2)})
    loop.gmm.restrictions = lambda gnb: RestrictedProfile("untrusted-ran")
    loop.register(null_ue)
    assert null_ue.state == UeState.DEREGISTERED and null_ue.last_cause == 111
    amf_ue = loop.register(a_ue)
    assert a_ue.state == UeState.REGISTERED
    assert amf_ue.nr_enc_alg == 2, "NEA0 is configured first but forbidden through this gNB"
    loop.gmm.restrictions = None
    loop2, (ue,) = make(schemes=(0,), gmm_kw={"ciphering_order": (0, 2)})
    assert loop2.register(ue).nr_enc_alg == 0


def test_mobility_registration_on_an_existing_connection() -> None:
    """A connected UE sends its Registration Request (ciphered) in Uplink NAS Transport."""
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    assert ue.connected
    old = ue.guti.tmsi
    loop.run(ue, loop.gmm.uplink_nas(amf_ue, ue.register(reg_type=2)))
    assert ue.state == UeState.REGISTERED and ue.guti.tmsi != old
    assert loop.gmm.ctx.stats.get("nas_bad_mac", 0) == 0
    # the reginit* metrics (TS 28.552 RM.RegInitReq/Succ) count the initial registration only
    st = loop.gmm.ctx.stats
    assert (st["registration_request"], st["registration_request_initial"], st["registration_request_update"]) == (2, 1, 1)
    assert (st["registered"], st["registered_initial"]) == (2, 1)


def test_configuration_update_reallocates_guti() -> None:
    """TS 24.501 §5.4.4: Configuration Update Command with a new 5G-GUTI, acknowledged."""
    loop, (ue,) = make()
    amf_ue = loop.register(ue, follow_on=True)
    old = amf_ue.tmsi
    loop.run(ue, loop.gmm.reallocate_guti(amf_ue))
    assert ue.guti.tmsi == amf_ue.tmsi != old
    assert old not in loop.gmm.ctx.by_tmsi and loop.gmm.ctx.by_tmsi[amf_ue.tmsi] is amf_ue
    assert amf_ue.proc is None and not loop.timers
    assert loop.gmm.ctx.stats["configuration_update"] == 1


def test_idle_ue_is_paged_before_network_deregistration() -> None:
    """TS 23.502 §4.2.3.3: page a CM-IDLE UE; its Service Request brings the de-registration."""
    from fivecore.nf.amf.gmm import Page

    loop, (ue,) = make()
    amf_ue = loop.register(ue)
    assert not ue.connected
    acts = loop.gmm.deregister(amf_ue)
    assert isinstance(acts[0], Page)
    loop.run(ue, acts)
    loop.initial(ue, ue.service_request(2))
    assert ue.state == UeState.DEREGISTERED
    assert amf_ue.state == GmmState.DEREGISTERED
    assert loop.gmm.ctx.stats["paging_answered"] == 1


def test_unanswered_paging_ends_in_implicit_deregistration() -> None:
    from fivecore.nf.amf.gmm import Page

    loop, (ue,) = make()
    amf_ue = loop.register(ue)
    loop.run(ue, loop.gmm.deregister(amf_ue))
    for _ in range(2):
        acts = loop.gmm.timer_expired(amf_ue, "T3513", loop.timers.pop((amf_ue.amf_ue_ngap_id, "T3513")))
        assert isinstance(acts[0], Page)
        loop.run(ue, acts)
    loop.fire(ue, amf_ue, "T3513")
    assert amf_ue.state == GmmState.DEREGISTERED and amf_ue.proc is None
    assert loop.gmm.ctx.stats["paging_failed"] == 1
