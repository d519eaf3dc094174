"""Fixtures the trust unit tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from fivecore.trust import TrustPolicy

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "trust-policy.yaml"


@pytest.fixture(scope="module")
def policy() -> TrustPolicy:
    """The example policy of ``examples/trust-policy.yaml``, loaded once per test module."""
    return TrustPolicy.from_file(EXAMPLE)
