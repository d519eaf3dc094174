"""Subscriber store files for the damaged-store tests (``tests/unit/test_store_damaged.py``,
``tests/e2e/test_udr_damaged_store.py``): a real store's bytes, and the same file damaged the
way the AMF's context file once was (a schema name that is not UTF-8)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from fivecore.store import Subscriber, SubscriberStore

N_SUBS = 40
SUPI = "imsi-001010000000007"


def supi(i: int) -> str:
    return f"imsi-00101{i:010d}"


@functools.cache
def template() -> bytes:
    """A real store file made by :class:`SubscriberStore`: ``N_SUBS`` subscribers (some with
    their own sections, most on profile ``gold``), context documents, one SQN advanced; the
    WAL folded back in on close, so the one file is the whole store."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "subs.db"
        store = SubscriberStore(f"sqlite:///{path}")
        try:
            store.put_profile("gold", {"amf": "8000", "am": {"subscribedDnnList": ["internet", "ims"]}})
            store.add_many(Subscriber(supi(i), k=bytes([i]) * 16, opc=bytes([255 - i]) * 16, sqn=32 * i,
                                      profile="gold" if i % 3 else None,
                                      data={"am": {"gpsis": [f"msisdn-4670000{i:04d}"]}} if i % 5 == 0 else {})
                           for i in range(1, N_SUBS + 1))
            for i in range(1, N_SUBS + 1, 4):
                store.put_context(supi(i), "amf-3gpp-access", "", {"amfInstanceId": f"amf-{i}", "ratType": "NR"})
            store.next_sqn(SUPI)
        finally:
            store.close()
        wal = Path(f"{path}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        return path.read_bytes()


def non_utf8_schema(raw: bytes) -> bytes:
    """The ``profiles`` table renamed to bytes that are no UTF-8, its SQL unparseable: SQLite's
    "malformed database schema (...)" then quotes the name, which Python's sqlite3 cannot
    decode (it raises UnicodeDecodeError, not a sqlite3 error)."""
    assert raw.count(b"CREATE TABLE profiles") == 1
    return raw.replace(b"profiles", b"pro\x80\x80les").replace(b"CREATE TABLE pro", b"CREATE TABLX pro")
