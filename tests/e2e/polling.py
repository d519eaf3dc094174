"""Waiting for a condition in e2e tests, and reading one Prometheus metric (e2e helpers).

Deadlines here are generous bounds on something that must happen, never measurements."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
import urllib.request
from typing import Any


def wait_until(what: str, cond: Any, timeout: float = 60.0, period: float = 0.2) -> Any:
    """Poll ``cond()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(period)


async def await_until(what: str, cond: Any, timeout: float = 90.0, period: float = 0.2) -> Any:
    """:func:`wait_until` for a test running on the event loop (which must keep running);
    ``cond()`` may also return an awaitable (e.g. a read of a process's stats), whose result counts."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if inspect.isawaitable(v):
            v = await v
        if v:
            return v
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        await asyncio.sleep(period)


def metric(url: str, name: str, label: str | None = None) -> float:
    """``name``'s value on ``url``/metrics (0 if absent, -1 if the endpoint does not answer);
    with ``label`` (e.g. ``'nftype="UPF"'``), the first series whose labels contain it."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=3) as r:  # noqa: S310 - our own core
            text = r.read().decode()
    except OSError:
        return -1.0
    labels = rf"\{{[^}}]*{re.escape(label)}[^}}]*\}}" if label else r"(?:\{[^}]*\})?"
    m = re.search(rf"^{name}{labels} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0
