"""The UDR process started on a damaged subscriber store exits with one clear line, not a
traceback: ``fivecore: error: subscriber store sqlite:///...: ... failed: ...`` and exit status 2
(the CLI's handling of a FivecoreError). Before, SQLAlchemy's DatabaseError (or Python's
UnicodeDecodeError, for a schema name that is not UTF-8) escaped with ~100 lines of traceback.

Run under the shared lock: ``flock /tmp/fivecore-bench.lock .venv/bin/pytest tests/e2e/test_udr_damaged_store.py``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from storefiles import non_utf8_schema, template

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DAMAGE = {
    "not-utf8-schema": lambda: non_utf8_schema(template()),
    "not-sqlite": lambda: b"this is not a database\n" * 200,
    "truncated": lambda: template()[:4096 + 100],
    "header-flipped": lambda: template()[:16] + b"\xff" * 8 + template()[24:],
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_udr_on_a_damaged_store_exits_with_one_line(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "subs.db"
    db.write_bytes(DAMAGE[kind]())
    cfg = tmp_path / "udr.yaml"
    cfg.write_text(yaml.safe_dump({
        "db_uri": f"sqlite:///{db}",
        "metrics": {"enabled": False},
        "udr": {"nrf_uri": None, "sbi": {"address": "127.0.0.1", "port": _free_port()}, "mgmt": {"enabled": False}},
    }))
    try:
        res = subprocess.run([sys.executable, "-m", "fivecore.cli.main", "nf", "udr", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the UDR started serving a damaged store instead of refusing it")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"fivecore: error: subscriber store sqlite:///{db}: "), lines[0]
