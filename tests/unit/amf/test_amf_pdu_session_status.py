"""PDU session status synchronisation (TS 24.501 §5.5.1.3.4 / §5.6.1.4.1): a UE's mobility
registration or Service Request says which PDU sessions it has; the AMF answers with its own
(Registration / Service Accept) and has the sessions the UE no longer has released at their
SMF (TS 29.502 cause PDU_SESSION_STATUS_MISMATCH). By plain calls through the real codecs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fivecore.ran.ue import UeState
from fivecore.ran.userplane import UeSession, UeSm

sys.path.insert(0, str(Path(__file__).parent))
from homenet import make  # noqa: E402


def _with_sessions(ue: Any, *psis: int) -> None:
    ue.sm = UeSm()
    for psi in psis:
        ue.sm.sessions[psi] = UeSession(psi, "internet", (1, None), "ACTIVE", 5, 1, f"10.45.0.{psi}")


def _hooks(loop: Any, amf_side: frozenset[int]) -> list[frozenset[int]]:
    gone: list[frozenset[int]] = []
    loop.gmm.session_psis = lambda ue: amf_side
    loop.gmm.on_sessions_gone = lambda ue, psis: gone.append(psis)
    return gone


def test_mobility_registration_carries_and_synchronises_the_status() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    gone = _hooks(loop, frozenset({1, 2}))
    _with_sessions(ue, 1, 3)  # the UE lost 2; 3 is unknown to the AMF
    loop.initial(ue, ue.register(reg_type=2))
    assert ue.state == UeState.REGISTERED
    assert gone == [frozenset({2})]
    assert loop.gmm.ctx.stats["pdu_sessions_released_by_status"] == 1
    # the AMF's answer names what it still has; the UE drops 3, which the AMF does not know
    assert set(ue.sm.sessions) == {1}


def test_service_request_carries_and_synchronises_the_status() -> None:
    loop, (ue,) = make()
    loop.register(ue)
    gone = _hooks(loop, frozenset({1, 5}))
    _with_sessions(ue, 1, 5)
    loop.initial(ue, ue.service_request())
    assert ue.state == UeState.REGISTERED and gone == []
    assert set(ue.sm.sessions) == {1, 5}


def test_no_status_without_the_ues() -> None:
    """An initial registration (no PDU session status from the UE): none in the answer."""
    loop, (ue,) = make()
    gone = _hooks(loop, frozenset({1}))
    loop.register(ue, follow_on=True)
    assert gone == [] and "pdu_sessions_released_by_status" not in loop.gmm.ctx.stats
