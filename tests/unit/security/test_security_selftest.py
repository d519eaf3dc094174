"""The ``fivecore selftest`` command: every check passes, and a failing check fails the command."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from fivecore.cli import selftest


def _app() -> typer.Typer:
    app = typer.Typer()
    selftest.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_all_checks_pass():
    results = selftest.run_selftest()
    assert len(results) == len(selftest.CHECKS) and all(r.passed for r in results), results


def test_json_output_and_exit_code():
    res = CliRunner().invoke(_app(), ["selftest", "--json"])
    assert res.exit_code == 0
    doc = json.loads(res.output)
    assert doc["passed"] is True and len(doc["checks"]) == len(selftest.CHECKS)


def test_failing_check_exits_non_zero(monkeypatch):
    monkeypatch.setattr(selftest, "CHECKS", [*selftest.CHECKS, ("broken", "none", lambda: False)])
    res = CliRunner().invoke(_app(), ["selftest"])
    assert res.exit_code == 1 and "FAIL" in res.output
