"""Redaction: secrets never logged, permanent identities only at debug level."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fivecore.obs.logging import mask_supi, redact, setup_logging

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "e8ed289deba952e4283b54e88e6183ca"


@pytest.fixture
def capture():
    buf = io.StringIO()

    def setup(level: str, fmt: str = "kv") -> io.StringIO:
        setup_logging(level, fmt=fmt, stream=buf)
        return buf

    yield setup
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_fivecore", False):
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


def test_mask_supi() -> None:
    assert mask_supi("imsi-001010000000001") == "imsi-00101********01"
    assert mask_supi("001010000000001") == "00101********01"
    assert mask_supi("suci-0-001-01-0000-1-1-abcd") == "suci-0-001-01-0000-1-1-abcd"


@pytest.mark.parametrize("level", ["info", "debug"])
def test_keys_never_logged(capture, level: str) -> None:
    buf = capture(level)
    log = logging.getLogger("fivecore.test")
    log.info("event=provisioned supi=imsi-001010000000001 k=%s opc=%s", K, OPC)
    log.warning("kausf=%s KSEAF: %s kgnb=%s res*=%s", "aa" * 32, "bb" * 32, "cc" * 32, "dd" * 16)
    try:
        raise ValueError(f"bad subscriber key={K}")
    except ValueError:
        log.exception("event=failure")
    out = buf.getvalue()
    for secret in (K, OPC, "aa" * 32, "bb" * 32, "cc" * 32, "dd" * 16):
        assert secret not in out
    assert out.count("<redacted>") >= 7


def test_supi_only_at_debug(capture) -> None:
    buf = capture("info")
    logging.getLogger("fivecore.amf").info("event=registered supi=%s url=/nudm-sdm/v2/imsi-001010000000001/am-data",
                                           "imsi-001010000000001")
    out = buf.getvalue()
    assert "001010000000001" not in out and "imsi-00101********01" in out
    buf = capture("debug")
    logging.getLogger("fivecore.amf").debug("event=registered supi=imsi-001010000000001")
    assert "imsi-001010000000001" in buf.getvalue()


def test_kv_and_json_format(capture) -> None:
    buf = capture("info")
    logging.getLogger("fivecore.up").info("event=nf_ready nf=amf address=127.0.0.5")
    line = buf.getvalue().strip()
    assert line.endswith("info fivecore.up event=nf_ready nf=amf address=127.0.0.5")
    buf = capture("info", fmt="json")
    buf.truncate(0)
    buf.seek(0)
    logging.getLogger("fivecore.up").info("event=nf_ready nf=amf")
    doc = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert doc["event"] == "nf_ready" and doc["nf"] == "amf" and doc["level"] == "info"


def test_bad_level() -> None:
    with pytest.raises(ValueError):
        setup_logging("loud")


@given(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), st.sampled_from(["k", "K", "opc", "OPc", "op", "kamf", "ck", "ik"]),
       st.sampled_from(["=", ": ", " = "]))
def test_redact_property(secret: str, key: str, sep: str) -> None:
    assert secret not in redact(f"x=1 {key}{sep}{secret} y=2", reveal_identities=True)
