"""Identifier patterns match the whole value: a trailing newline (reachable as ``%0A`` in a
path segment since paths are decoded per segment) is not part of a valid SUPI, NF instance id
(UUID, RFC 4122), vendor id or PLMN."""

from __future__ import annotations

import pytest

from fivecore.nf.nrf.context import _UUID
from fivecore.nf.udm.context import SUPI_RE
from fivecore.trust.policy import _VENDOR_ID_RE

UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.mark.parametrize(("pattern", "good"), [(SUPI_RE, "imsi-001010000000001"), (_UUID, UUID), (_VENDOR_ID_RE, "123456")])
def test_whole_value_only(pattern, good: str) -> None:
    assert pattern.match(good)
    for bad in (good + "\n", good + "x", "x" + good, good + "\n\n"):
        assert not pattern.match(bad), repr(bad)

