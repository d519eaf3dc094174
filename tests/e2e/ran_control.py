"""Waiting on a `fivecore ran` process through its control socket (e2e helper)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from fivecore.errors import FivecoreError
from fivecore.ran.app import control_request


def wait_registered(proc: subprocess.Popen[bytes], sock: str, log: Path, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll ``ue list`` until every UE is REGISTERED or ``timeout`` passes; the last list. A
    simulator that exits meanwhile fails the test with its log."""
    deadline = time.monotonic() + timeout
    ues: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(log.read_text())
        try:
            ues = asyncio.run(control_request(sock, {"cmd": "ue list"}))["ues"]
        except FivecoreError:
            ues = []
        if ues and all(u["state"] == "REGISTERED" for u in ues):
            break
        time.sleep(0.2)
    return ues
