"""AMF overload control (TS 23.501 §5.19.5.2) from the event loop's lag, by plain calls."""

from __future__ import annotations

from amf_app import app_with_gnb

from fivecore.wire import ngap


def test_lag_starts_and_stops_overload_with_hysteresis() -> None:
    app, sent = app_with_gnb(overload_loop_lag_ms=100)
    app.loop_lag = 0.05
    app._check_overload()
    assert not app.overloaded and not sent
    app.loop_lag = 0.12
    app._check_overload()
    assert app.overloaded
    assert [ngap.decode(b).procedure for b in sent] == ["OverloadStart"]
    app.loop_lag = 0.04  # below the threshold, not yet below a quarter of it: stays on
    app._check_overload()
    assert app.overloaded and len(sent) == 1
    app.loop_lag = 0.02
    app._check_overload()
    assert not app.overloaded
    assert [ngap.decode(b).procedure for b in sent] == ["OverloadStart", "OverloadStop"]


def test_lag_off_leaves_only_the_waiting_call_signal() -> None:
    app, sent = app_with_gnb(overload_loop_lag_ms=0, overload_threshold=4)
    app.loop_lag = 5.0
    app._check_overload()
    assert not app.overloaded and not sent
