"""CPU time and memory of named processes, from the kernel's own accounting (psutil).

The core's CPU per operation is the difference of the core processes' user+system CPU time
over a run divided by the operations done: the simulator runs in another process, so its
share (USIM crypto, its own NGAP coding) is counted separately and never charged to the core.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


@dataclass(frozen=True)
class ProcStat:
    """One process at one instant: CPU seconds used so far (user, system) and RSS in bytes."""

    user: float
    system: float
    rss: int

    @property
    def cpu(self) -> float:
        return self.user + self.system


@dataclass(frozen=True)
class Snapshot:
    """Several named processes at one instant (a process that has gone is absent)."""

    stats: Mapping[str, ProcStat]

    def cpu_delta(self, earlier: Snapshot, names: Iterable[str] | None = None) -> dict[str, float]:
        """CPU seconds each process used since ``earlier``."""
        keys = list(names) if names is not None else list(self.stats)
        return {k: self.stats[k].cpu - earlier.stats[k].cpu for k in keys
                if k in self.stats and k in earlier.stats}

    def rss_mb(self) -> dict[str, float]:
        return {k: round(v.rss / MB, 1) for k, v in self.stats.items()}


@dataclass
class ProcessSet:
    """Named processes to watch: ``ProcessSet({"core": pid, "upf": pid2, "simulator": os.getpid()})``."""

    pids: dict[str, int]
    _procs: dict[str, psutil.Process] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for name, pid in self.pids.items():
            try:
                self._procs[name] = psutil.Process(pid)
            except psutil.Error:
                continue

    def snapshot(self) -> Snapshot:
        out: dict[str, ProcStat] = {}
        for name, p in self._procs.items():
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    out[name] = ProcStat(t.user, t.system, p.memory_info().rss)
            except psutil.Error:
                continue
        return Snapshot(out)


class PeakRss:
    """Samples RSS of a :class:`ProcessSet` in a thread; ``peak_mb()`` is the maximum seen."""

    def __init__(self, procs: ProcessSet, interval: float = 0.5) -> None:
        self.procs = procs
        self.interval = interval
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        for k, v in self.procs.snapshot().stats.items():
            if v.rss > self.peak.get(k, 0):
                self.peak[k] = v.rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakRss:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def peak_mb(self) -> dict[str, float]:
        return {k: round(v / MB, 1) for k, v in self.peak.items()}
