"""Structured key=value logging with redaction, set up once per process by the CLI.

    from fivecore.obs.logging import setup_logging
    setup_logging("info")                 # or "debug", and fmt="json" for log shippers

Lines look like ``2026-11-29T19:30:00.123Z info fivecore.amf event=registered supi=imsi-00101******01``.
What the filter does, whatever the NF code wrote (ARCHITECTURE.md "Conventions"; TS 33.501 §6.12
treats the SUPI as the identity the network must keep from the RAN and from bystanders):

* a permanent identity (``imsi-...``, ``supi=...``, ``imsi=...``, a bare 15-digit IMSI after an
  ``imsi``/``supi`` key) is masked to MCC+MNC and the last two digits — unless the effective
  level is DEBUG, where operators debugging one subscriber need it;
* a long-term or derived key (``k=``, ``opc=``, ``op=``, ``kausf=``, ``kseaf=``, ``kamf=``,
  ``kgnb=``, ``knasint``, ``ck=``, ``ik=``, ``res*``...) never appears, at any level: the value is
  replaced by ``<redacted>``.

Masking works on the formatted message, so it also covers ``%s`` arguments and exception text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")

#: key names whose values are secrets (lower case, compared case-insensitively)
SECRET_KEYS = (
    "k", "key", "ki", "opc", "op", "amf_key", "kausf", "kseaf", "kamf", "kgnb", "kn3iwf", "knasint",
    "knasenc", "knas_int", "knas_enc", "kupint", "kupenc", "ck", "ik", "ckprime", "ikprime", "ck_prime",
    "ik_prime", "res", "res_star", "xres", "xres_star", "hxres", "hxres_star", "autn_key", "private_key",
    "hn_private_key", "msk", "emsk", "kdf_key", "token", "password",
)

_SECRET_RE = re.compile(
    r"(?i)(?<![\w-])(" + "|".join(re.escape(k) for k in sorted(SECRET_KEYS, key=len, reverse=True))
    + r"|res\*|xres\*|hxres\*)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;)}\]]+)"
)
# ``imsi-<digits>`` and ``supi/imsi=<digits>`` (MCC 3 + MNC 2-3 + MSIN), also inside SUCI-less URIs.
_IMSI_RE = re.compile(r"(?i)(imsi-|(?<![\w-])(?:supi|imsi)\s*[=:]\s*(?:imsi-)?)(\d{5,15})\b")


def mask_supi(value: str) -> str:
    """``imsi-001010000000001`` -> ``imsi-00101********01`` (MCC+MNC and the last two digits)."""
    m = re.fullmatch(r"(?i)(imsi-)?(\d+)", value)
    if not m:
        return value
    return (m.group(1) or "") + _mask_digits(m.group(2))


def _mask_digits(d: str) -> str:
    if len(d) <= 7:
        return "*" * len(d)
    return d[:5] + "*" * (len(d) - 7) + d[-2:]


def redact(text: str, *, reveal_identities: bool = False) -> str:
    """Remove secrets from ``text``; mask permanent identities unless ``reveal_identities``."""
    text = _SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}<redacted>", text)
    if not reveal_identities:
        text = _IMSI_RE.sub(lambda m: m.group(1) + _mask_digits(m.group(2)), text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message through :func:`redact` before any handler formats it."""

    def __init__(self, reveal_identities: bool = False) -> None:
        super().__init__()
        self.reveal_identities = reveal_identities

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a bad %-format in someone's log call must not lose the line
            msg = f"{record.msg} {record.args}"
        record.msg = redact(msg, reveal_identities=self.reveal_identities)
        record.args = None
        if record.exc_info:
            # exceptions are formatted later by the handler: format now so they pass through us
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     reveal_identities=self.reveal_identities)
            record.exc_info = None
        return True


class KeyValueFormatter(logging.Formatter):
    """``<UTC time> <level> <logger> <message>``; the message itself carries key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = f"{ts}.{int(record.msecs):03d}Z {record.levelname.lower()} {record.name} {record.getMessage()}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``key=value`` pairs of the message become fields."""

    _KV = re.compile(r"(\w+)=(\"[^\"]*\"|\S+)")

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": msg,
        }
        for k, v in self._KV.findall(msg):
            doc.setdefault(k, v.strip('"'))
        if record.exc_text:
            doc["exception"] = record.exc_text
        return json.dumps(doc)


def setup_logging(level: str = "info", *, fmt: str = "kv", stream: TextIO | None = None,
                  file: str | None = None) -> logging.Handler:
    """Configure the root logger once: level, format (``kv`` or ``json``), redaction.

    Identities are shown only when ``level`` is ``debug``; secrets never. Returns the handler.
    """
    lvl = level.lower()
    if lvl not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    handler: logging.Handler = (logging.FileHandler(file) if file
                                else logging.StreamHandler(stream or sys.stderr))
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter(reveal_identities=lvl == "debug"))
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_fivecore", False):
            root.removeHandler(h)
            h.close()
    handler._fivecore = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(lvl.upper())
    # third-party chatter (HTTP/2 frames, SQL) stays at warning unless we debug
    for noisy in ("hpack", "h2", "httpx", "httpcore", "sqlalchemy", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if lvl == "debug" else logging.WARNING)
    return handler
