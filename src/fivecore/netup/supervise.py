"""``up.restart``: when and how often ``fivecore up`` restarts a process it started.

``up`` starts the UPF and, with ``up.amf_set_size`` above 1, the further AMF Set members as
child processes. One that exits while ``up`` runs (and ``up`` is not stopping it) is started
again with the same configuration, the rest of the core serving meanwhile. The policy:

- ``up.restart``: ``on-failure`` (default) restarts after a non-zero exit status or a signal,
  ``always`` after any exit, ``never`` only reports the exit;
- at most ``up.restart_max`` restarts of one process within any ``up.restart_window_s``
  seconds; the next exit inside the window gives up (logged at CRITICAL, shown as ``failed``);
- before each restart a pause of ``up.restart_backoff_s`` doubling with every restart still
  inside the window, capped at ``up.restart_backoff_max_s`` (0.5 s, 1 s, 2 s ... 10 s): a
  process that crashes at start-up does not spin, and one that ran quietly for a whole window
  starts again from the first pause.

:class:`RestartTracker` is the bookkeeping for one process, sans-I/O in the house style: the
caller hands it each exit with a clock reading and carries out the :class:`Decision`; it never
sleeps, spawns or reads a clock itself. ``up``'s own process is not supervised here: run it
under systemd (``Restart=on-failure``) or Kubernetes for that.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass
from typing import Literal

from fivecore.config import UpConfig

Mode = Literal["on-failure", "always", "never"]


@dataclass(frozen=True)
class RestartPolicy:
    """The ``up.restart*`` settings (see the module docstring)."""

    mode: Mode = "on-failure"
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_s: float = 0.5
    backoff_max_s: float = 10.0

    @classmethod
    def from_config(cls, up: UpConfig) -> RestartPolicy:
        return cls(up.restart, up.restart_max, up.restart_window_s, up.restart_backoff_s, up.restart_backoff_max_s)

    def backoff(self, n: int) -> float:
        """The pause before restart number ``n`` (1-based) of a window."""
        return min(self.backoff_s * (2.0 ** (n - 1)), self.backoff_max_s)


@dataclass(frozen=True)
class Decision:
    """What to do about one exit: restart after ``delay`` seconds (try ``attempt`` of the
    window), or not, and why not (``reason``)."""

    restart: bool
    delay: float = 0.0
    attempt: int = 0
    reason: str = ""
    #: True when the window's budget is spent: the supervisor stops trying (``failed``)
    gave_up: bool = False


def describe_status(status: int | None) -> str:
    """``status`` as Popen reports it (negative: killed by that signal) in words for logs."""
    if status is None:
        return "unknown"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


class RestartTracker:
    """One supervised process's restart history under a :class:`RestartPolicy`."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        #: clock readings of the restarts decided within the last window
        self._recent: deque[float] = deque()
        #: restarts decided since ``up`` started this process first
        self.restarts = 0
        #: the last exit status (Popen's returncode: negative = killed by that signal)
        self.last_exit: int | None = None
        self.gave_up = False

    def on_exit(self, status: int | None, now: float) -> Decision:
        """The process exited with ``status`` at clock reading ``now`` (monotonic seconds)."""
        self.last_exit = status
        p = self.policy
        if self.gave_up:
            return Decision(False, reason="already given up", gave_up=True)
        if p.mode == "never":
            return Decision(False, reason="up.restart is never")
        if p.mode == "on-failure" and status == 0:
            return Decision(False, reason="exited cleanly (status 0) and up.restart is on-failure")
        while self._recent and self._recent[0] <= now - p.window_s:
            self._recent.popleft()
        if len(self._recent) >= p.max_restarts:
            self.gave_up = True
            return Decision(False, reason=f"{len(self._recent)} restarts within {p.window_s:g}s (up.restart_max)",
                            gave_up=True)
        self._recent.append(now)
        self.restarts += 1
        n = len(self._recent)
        return Decision(True, delay=p.backoff(n), attempt=n)

    @property
    def tries_in_window(self) -> int:
        return len(self._recent)
