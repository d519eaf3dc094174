"""A damaged subscriber store file is a typed error, never a raw sqlite3 / SQLAlchemy / Unicode
one: byte flips, truncation, a schema name that is not UTF-8, a foreign SQLite file and a file
that is not SQLite at all. Opening, reading and writing such a file raises only
:class:`fivecore.store.StoreError` (:class:`fivecore.store.StoreDatabaseError` for the damage
itself) with a one-line message naming the store; ``fivecore subscriber`` then prints that line.

Found by analogy with the AMF's UE context file, where Python's sqlite3 raised
``UnicodeDecodeError`` for SQLite's "malformed database schema" message quoting a name that is
not UTF-8 (``tests/unit/amf/test_amf_persist.py``)."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storefiles import N_SUBS, SUPI, non_utf8_schema, supi, template
from typer.testing import CliRunner

from fivecore.cli.main import app as cli_app
from fivecore.store import StoreDatabaseError, StoreError, Subscriber, SubscriberStore

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _operations(store: SubscriberStore) -> list[Callable[[], Any]]:
    """Every kind of call a UDR, UDM or `fivecore subscriber` makes: reads, the SQN path,
    context documents, provisioning writes, the integrity check."""
    new = Subscriber(supi(N_SUBS + 1), k=bytes(16), opc=bytes(16))
    return [
        lambda: store.get(SUPI),
        lambda: store.exists(SUPI),
        lambda: store.sections(SUPI, ("am", "sm", "smf_selection")),
        lambda: store.auth_data(SUPI),
        lambda: store.next_sqn(SUPI),
        lambda: store.cas_sqn(SUPI, 0, 64),
        lambda: store.set_sqn(supi(2), 96),
        lambda: store.get_context(supi(1), "amf-3gpp-access", subscriber=True),
        lambda: store.put_context(supi(5), "amf-3gpp-access", "", {"amfInstanceId": "x"}, subscriber=True),
        lambda: store.list_context(supi(1), "amf-3gpp-access"),
        lambda: store.delete_context(supi(9), "amf-3gpp-access"),
        lambda: store.get_profile("gold"),
        lambda: store.get_profile("default"),
        lambda: store.list_profiles(),
        lambda: store.put_profile("silver", {"amf": "8000"}),
        lambda: store.effective(store.get(supi(10))),
        lambda: store.list(limit=50),
        lambda: list(store.iter_all(chunk=7)),
        lambda: store.count(),
        lambda: store.update(supi(3), sqn=128, data={"am": {"gpsis": []}}),
        lambda: store.add(new),
        lambda: store.delete(supi(4)),
        lambda: store.check(),
    ]


def _assert_typed(exc: StoreError, path: Path) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg, repr(msg)
    if isinstance(exc, StoreDatabaseError):
        assert str(path) in msg, msg


def _exercise(path: Path) -> tuple[bool, int]:
    """Open the store on ``path`` and run every operation; anything but a StoreError escapes
    (and fails the test). Returns (opened, how many operations raised StoreError)."""
    try:
        store = SubscriberStore(f"sqlite:///{path}")
    except StoreError as exc:
        _assert_typed(exc, path)
        return False, 0
    failed = 0
    try:
        for op in _operations(store):
            try:
                op()
            except StoreError as exc:
                _assert_typed(exc, path)
                failed += 1
    finally:
        store.close()
    return True, failed


def _with_file(data: bytes, fn: Callable[[Path], Any]) -> Any:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "subs.db"
        path.write_bytes(data)
        return fn(path)


# --- the sound file first: the operations themselves work -----------------------------------


def test_the_template_store_is_sound() -> None:
    opened, failed = _with_file(template(), _exercise)
    assert opened and failed == 0


# --- fuzzed damage ---------------------------------------------------------------------------


@settings(FUZZ, max_examples=150)
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(1, 255)), min_size=1, max_size=24),
       header=st.booleans())
def test_fuzz_byte_flips_raise_only_store_errors(flips: list[tuple[int, int]], header: bool) -> None:
    raw = bytearray(template())
    for pos, mask in flips:
        # half the runs aim at the 100-byte header and each page's own header, where one
        # flipped bit changes how SQLite reads everything after it
        i = (pos % 100 if pos % 2 else (pos % (len(raw) // 4096)) * 4096 + pos % 12) if header else pos % len(raw)
        raw[i] ^= mask
    _with_file(bytes(raw), _exercise)


@FUZZ
@given(cut=st.integers(0, 1 << 20))
def test_fuzz_truncated_files_raise_only_store_errors(cut: int) -> None:
    raw = template()
    _with_file(raw[: cut % len(raw)], _exercise)


@FUZZ
@given(head=st.sampled_from([b"", b"SQLite format 3\x00"]), data=st.binary(max_size=8192))
def test_fuzz_files_that_are_not_sqlite_raise_only_store_errors(head: bytes, data: bytes) -> None:
    opened, _ = _with_file(head + data, _exercise)
    if head + data == b"":
        assert opened, "an empty file is a new store"


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda n: not n.startswith("sqlite_"))


@FUZZ
@given(tables=st.lists(st.tuples(_name, st.lists(_name, min_size=1, max_size=4, unique=True)),
                       min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_fuzz_foreign_sqlite_files_are_refused_untouched(tables: list[tuple[str, list[str]]]) -> None:
    """Another program's SQLite database (any tables, even one called ``subscribers``) is not
    turned into a subscriber store: the open is refused and the file stays as it was."""

    def run(path: Path) -> None:
        db = sqlite3.connect(path)
        for name, cols in tables:
            columns = ", ".join(f'"{c}"' for c in cols)
            db.execute(f'CREATE TABLE "{name}" ({columns})')
            db.execute(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in cols)})', [1] * len(cols))
        db.commit()
        db.close()
        before = path.read_bytes()
        with pytest.raises(StoreDatabaseError) as err:
            SubscriberStore(f"sqlite:///{path}")
        _assert_typed(err.value, path)
        assert "not a fivecore subscriber store" in str(err.value)
        assert path.read_bytes() == before

    _with_file(b"", run)


# --- the damage found in the AMF's file, made on purpose -------------------------------------


def test_schema_name_that_is_not_utf8_is_a_store_database_error() -> None:
    def run(path: Path) -> None:
        with pytest.raises(StoreDatabaseError) as err:
            SubscriberStore(f"sqlite:///{path}")
        _assert_typed(err.value, path)
        assert "not UTF-8" in str(err.value)

    _with_file(non_utf8_schema(template()), run)


def test_row_text_that_is_not_utf8_is_a_store_database_error() -> None:
    """A subscriber's K damaged into bytes that are no UTF-8: the file opens, reading that row
    is a StoreDatabaseError, the other subscribers still read."""
    raw = template()
    k = (bytes([7]) * 16).hex().encode()
    assert raw.count(k) == 1

    def run(path: Path) -> None:
        store = SubscriberStore(f"sqlite:///{path}")
        try:
            with pytest.raises(StoreDatabaseError) as err:
                store.get(SUPI)
            _assert_typed(err.value, path)
            assert store.get(supi(8)).k == bytes([8]) * 16
        finally:
            store.close()

    _with_file(raw.replace(k, b"\xff" * len(k)), run)


def test_subscriber_cli_on_a_damaged_store_prints_one_line(tmp_path: Path) -> None:
    """`fivecore subscriber list` on such a file: the store's one-line error, no traceback (the
    CLI's main turns a FivecoreError into ``fivecore: error: ...`` and exit status 2)."""
    path = tmp_path / "subs.db"
    path.write_bytes(non_utf8_schema(template()))
    res = CliRunner().invoke(cli_app, ["subscriber", "list", "--db", f"sqlite:///{path}"])
    assert isinstance(res.exception, StoreDatabaseError), res.output
    _assert_typed(res.exception, path)


@pytest.mark.timeout(60)
def test_damaged_index_order_ends_iteration_with_an_error() -> None:
    """One key of the subscribers' primary-key index damaged so it sorts after every other
    (found by the byte-flip fuzz test): ``iter_all`` pages with ``supi > last``, and fetched the
    same chunk for ever. Now the damage is a StoreDatabaseError."""
    raw = template()
    # an index record: header of 3 bytes, a 20-byte text (serial type 0x35), a 1-byte rowid
    entry = b"\x03\x35\x01" + supi(39).encode()
    assert raw.count(entry) == 1
    damaged = raw.replace(entry, entry[:18] + b"l" + entry[19:])

    def run(path: Path) -> None:
        store = SubscriberStore(f"sqlite:///{path}")
        try:
            with pytest.raises(StoreDatabaseError) as err:
                list(store.iter_all(chunk=7))
            _assert_typed(err.value, path)
        finally:
            store.close()

    _with_file(damaged, run)


def test_udr_answers_a_failing_database_with_500_not_400(tmp_path: Path) -> None:
    """The UDR maps the store's input errors to 400 MANDATORY_IE_INCORRECT; a failure of the
    database itself is the server's (TS 29.500 §5.2.7.2: 500 SYSTEM_FAILURE), on every path."""
    from sqlalchemy import create_engine

    from fivecore.nf.udr.context import UdrContext
    from fivecore.nf.udr.sbi import build_router
    from fivecore.transport.http2.message import Request

    path = tmp_path / "subs.db"
    path.write_bytes(template())
    store = SubscriberStore(f"sqlite:///{path}")
    router = build_router(UdrContext(store))
    try:
        # The database goes bad under the running UDR: the fast connection (the SQN swap) is
        # gone and the engine (a plain SQN set) now reaches a file that is not a database.
        assert store._fast is not None
        store._fast.close()
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"not a database " * 512)
        store.engine.dispose()
        store.engine = create_engine(f"sqlite:///{garbage}")
        patch = b'[{"op": "replace", "path": "/sequenceNumber", "value": {"sqn": "000000000040"}}]'
        for body in (patch, b'[{"op": "test", "path": "/sequenceNumber/sqn", "value": "000000000000"},'
                            b' {"op": "replace", "path": "/sequenceNumber/sqn", "value": "000000000040"}]'):
            req = Request("PATCH", f"/nudr-dr/v2/subscription-data/{SUPI}/authentication-data/authentication-subscription",
                          headers={"content-type": "application/json-patch+json"}, body=body)
            resp = router.dispatch_sync(req)
            assert resp is not None and resp.status == 500, (resp.status if resp else None, resp.body if resp else None)
    finally:
        store.close()
