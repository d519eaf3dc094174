"""``up.restart``: the restart policy of fivecore.netup.supervise, on a clock the test owns."""

from __future__ import annotations

import signal

import pytest

from fivecore.config import load_config
from fivecore.errors import ConfigError
from fivecore.netup.supervise import RestartPolicy, RestartTracker, describe_status

KILLED = -signal.SIGKILL


def test_backoff_doubles_from_the_first_pause_up_to_the_cap() -> None:
    p = RestartPolicy(max_restarts=100, backoff_s=0.5, backoff_max_s=10.0)
    assert [p.backoff(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_crash_loop_backs_off_then_gives_up_after_max_restarts_in_the_window() -> None:
    t = RestartTracker(RestartPolicy(max_restarts=5, window_s=60.0))
    now = 1000.0
    delays = []
    for n in range(1, 6):
        d = t.on_exit(KILLED, now)
        assert d.restart and d.attempt == n and not d.gave_up
        delays.append(d.delay)
        now += d.delay + 1.0  # the restarted process lives one second, then dies again
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert t.restarts == 5
    d = t.on_exit(1, now)  # the sixth exit inside 60 s
    assert not d.restart and d.gave_up and "5 restarts within 60s" in d.reason
    assert t.gave_up and t.last_exit == 1 and t.restarts == 5
    # given up is final, even once the window has passed
    d = t.on_exit(KILLED, now + 3600)
    assert not d.restart and d.gave_up and t.restarts == 5


def test_window_slides_old_restarts_out_and_the_backoff_starts_again() -> None:
    t = RestartTracker(RestartPolicy(max_restarts=2, window_s=10.0, backoff_s=1.0, backoff_max_s=30.0))
    assert t.on_exit(KILLED, 0.0).delay == 1.0
    assert t.on_exit(KILLED, 5.0).delay == 2.0
    assert t.tries_in_window == 2
    # the restart at 0.0 is exactly one window old at 10.0: out of the count
    d = t.on_exit(KILLED, 10.0)
    assert d.restart and d.attempt == 2 and d.delay == 2.0
    # at 14.9 the restarts at 5.0 and 10.0 are both inside the window: the budget is spent
    assert t.on_exit(KILLED, 14.9).gave_up
    assert t.restarts == 3


def test_a_process_that_ran_quietly_for_a_window_starts_from_the_first_pause() -> None:
    t = RestartTracker(RestartPolicy(max_restarts=3, window_s=60.0))
    for now in (0.0, 2.0, 5.0):
        assert t.on_exit(KILLED, now).restart
    d = t.on_exit(KILLED, 500.0)
    assert d.restart and d.attempt == 1 and d.delay == 0.5
    assert t.restarts == 4


def test_on_failure_leaves_a_clean_exit_alone_always_does_not_never_never_restarts() -> None:
    on_failure = RestartTracker(RestartPolicy(mode="on-failure"))
    d = on_failure.on_exit(0, 1.0)
    assert not d.restart and not d.gave_up and "cleanly" in d.reason
    assert on_failure.last_exit == 0 and on_failure.restarts == 0
    assert on_failure.on_exit(2, 2.0).restart
    assert on_failure.on_exit(KILLED, 3.0).restart

    always = RestartTracker(RestartPolicy(mode="always"))
    assert always.on_exit(0, 1.0).restart and always.restarts == 1

    never = RestartTracker(RestartPolicy(mode="never"))
    d = never.on_exit(KILLED, 1.0)
    assert not d.restart and not d.gave_up and "never" in d.reason
    assert never.restarts == 0 and never.last_exit == KILLED


def test_zero_backoff_restarts_at_once() -> None:
    t = RestartTracker(RestartPolicy(backoff_s=0.0, backoff_max_s=0.0))
    assert [t.on_exit(1, float(i)).delay for i in range(3)] == [0.0, 0.0, 0.0]


def test_policy_from_the_up_section_and_its_validation() -> None:
    default = RestartPolicy.from_config(load_config(None).up)
    assert default == RestartPolicy("on-failure", 5, 60.0, 0.5, 10.0)
    cfg = load_config({"up": {"restart": "never", "restart_max": 2, "restart_window_s": 5,
                              "restart_backoff_s": 0.1, "restart_backoff_max_s": 0.4}})
    assert RestartPolicy.from_config(cfg.up) == RestartPolicy("never", 2, 5.0, 0.1, 0.4)
    with pytest.raises(ConfigError, match="up.restart"):
        load_config({"up": {"restart": "sometimes"}})
    with pytest.raises(ConfigError, match="up.restart_max"):
        load_config({"up": {"restart_max": 0}})
    with pytest.raises(ConfigError, match="up.restart_window_s"):
        load_config({"up": {"restart_window_s": 0}})
    with pytest.raises(ConfigError, match="restart_backoff_max_s"):
        load_config({"up": {"restart_backoff_s": 5, "restart_backoff_max_s": 1}})
    with pytest.raises(ConfigError, match="up.restart_backoff_s"):
        load_config({"up": {"restart_backoff_s": -1}})


def test_exit_status_in_words() -> None:
    assert describe_status(KILLED) == "killed by SIGKILL"
    assert describe_status(2) == "exit status 2"
    assert describe_status(None) == "unknown"
    assert describe_status(-200) == "killed by signal 200"
