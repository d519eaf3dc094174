"""The subscriber store on PostgreSQL (``db_uri: postgresql+psycopg://...``), the scale-out store
of ARCHITECTURE.md: a throw-away PostgreSQL server (Debian's ``postgresql``, started here as
the ``postgres`` user on a loopback port) under the store API, then under a whole core whose
control plane is an AMF Set of two processes sharing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """``postgresql+psycopg://fivecore@127.0.0.1:PORT`` of a fresh cluster (no database yet)."""
    if os.geteuid() != 0:
        pytest.skip("starts PostgreSQL as the postgres user (root needed)")
    pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (the test extra has it)")
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server not installed (scripts/system-deps.sh installs Debian's postgresql)")
    from fivecore.nf.common.launch import free_port

    root = Path(tempfile.mkdtemp(prefix="fivecore-pg-", dir="/tmp"))
    shutil.chown(root, "postgres")
    port = free_port()
    data = root / "data"

    def as_pg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              timeout=120)

    r = as_pg(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "fivecore", "-E", "UTF8", "--no-sync")
    assert r.returncode == 0, r.stderr
    r = as_pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o",
              f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start")
    assert r.returncode == 0, r.stderr + (root / "server.log").read_text(errors="replace")
    try:
        yield f"postgresql+psycopg://fivecore@127.0.0.1:{port}"
    finally:
        as_pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def _create_db(server: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_store_api_on_postgresql(pg_server: str) -> None:
    from fivecore.store import NotFound, Subscriber, SubscriberStore

    uri = _create_db(pg_server, "api")
    s = SubscriberStore(uri)
    try:
        k, opc = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc"), bytes.fromhex("e8ed289deba952e4283b54e88e6183ca")
        assert s.add_many((Subscriber(f"imsi-0010100000000{i:02d}", k=k, opc=opc, profile="default")
                           for i in range(20)), replace=True) == 20
        sub = s.get("imsi-001010000000007")
        assert sub.sqn == 0 and s.exists(sub.supi) and not s.exists("imsi-001019999999999")
        assert s.cas_sqn(sub.supi, 0, 32) is True
        assert s.cas_sqn(sub.supi, 0, 64) is False  # another writer got there first
        assert s.get(sub.supi).sqn == 32
        assert s.put_context(sub.supi, "amf-3gpp-access", "", {"amfInstanceId": "a"}, subscriber=True) is True
        assert s.put_context(sub.supi, "amf-3gpp-access", "", {"amfInstanceId": "b"}, subscriber=True) is False
        with pytest.raises(NotFound):
            s.put_context("imsi-001019999999999", "amf-3gpp-access", "", {}, subscriber=True)
        assert s.get_context(sub.supi, "amf-3gpp-access") == {"amfInstanceId": "b"}
        assert s.count() == 20
    finally:
        s.close()
    # a second process-like client (new engine) sees everything: it lives in the server
    again = SubscriberStore(uri)
    try:
        assert again.get("imsi-001010000000007").sqn == 32
        assert again.get_context("imsi-001010000000007", "amf-3gpp-access") == {"amfInstanceId": "b"}
        assert again.check() == []
    finally:
        again.close()


def test_amf_set_attaches_on_postgresql(pg_server: str, tmp_path: Path) -> None:
    from fivecore.benchkit.attach import Attacher
    from fivecore.benchkit.network import FIRST_IMSI, AmfSetNetwork, NetPlan
    from fivecore.ran.ue import UeState

    uri = _create_db(pg_server, "core")
    plan = NetPlan.slot(7, extra={"db_uri": uri})
    net = AmfSetNetwork(plan, members=2, workdir=tmp_path)
    n = 8
    net.start()
    try:
        assert net.state["db_uri"] == uri
        net.provision(n)

        async def run() -> list[tuple[int, str]]:
            att = await Attacher.create(net, n, FIRST_IMSI, n_gnbs=2)
            try:
                for i in range(n):
                    await att.attach(i)
                assert {ru.ue.state for ru in att.sim.ues} == {UeState.REGISTERED}
                return [(ru.ue.guti.amf_pointer, ru.ue.sm.sessions[1].ipv4) for ru in att.sim.ues]
            finally:
                await att.close()

        rows = asyncio.run(run())
    finally:
        net.stop()
    assert sorted({p for p, _ip in rows}) == [0, 1]
    # both members wrote their UEs' registrations into the one database
    from fivecore.store import SubscriberStore

    s = SubscriberStore(uri)
    try:
        regs = [s.get_context(f"imsi-{int(FIRST_IMSI) + i:015d}", "amf-3gpp-access") for i in range(n)]
        assert all(r is not None for r in regs)
        assert len({r["amfInstanceId"] for r in regs if r}) == 2
    finally:
        with contextlib.suppress(Exception):
            s.close()
