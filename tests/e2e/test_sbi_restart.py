"""Crash safety: kill -9 the UDR while UDMs generate vectors and subscribers are being imported.

After a restart: the SQLite store passes its integrity check, every subscriber whose creation
was acknowledged is there with its keys, no SQN went backwards (each stored SQN is at least
the highest SQN any vector carried), no two vectors shared a SQN, and new vectors continue above.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from fivecore.nf.common.launch import Core
from fivecore.security import milenage
from fivecore.store import SubscriberStore
from fivecore.transport.http2 import Http2Client, TransportError

pytestmark = pytest.mark.e2e

SNN = "5G:mnc001.mcc001.3gppnetwork.org"
TOKEN = {"authorization": "Bearer test-token"}
N_SUBS = 50


def _keys(i: int) -> tuple[str, str]:
    rnd = random.Random(i)
    return rnd.randbytes(16).hex(), rnd.randbytes(16).hex()


def _sqn_of(av: dict, k: str, opc: str) -> int:
    _, _, _, ak = milenage.f2345(bytes.fromhex(k), bytes.fromhex(opc), bytes.fromhex(av["rand"]))
    return int.from_bytes(bytes(a ^ b for a, b in zip(bytes.fromhex(av["autn"])[:6], ak, strict=True)), "big")


async def test_kill_udr_mid_load(tmp_path: Path):
    core = Core(tmp_path)
    core.start()
    try:
        await _run(core)
    finally:
        core.stop()


async def _run(core: Core) -> None:
    subs = {f"imsi-00101{i:010d}": _keys(i) for i in range(N_SUBS)}
    acknowledged = set(subs)
    async with Http2Client(timeout=3, retries=0) as c:
        r = await c.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers-bulk", headers=TOKEN,
                            json={"subscribers": [{"imsi": s, "k": k, "opc": o} for s, (k, o) in subs.items()]})
        assert r.status == 201
        seen: dict[str, list[int]] = {s: [] for s in subs}
        stop = asyncio.Event()

        async def vectors() -> None:
            while not stop.is_set():
                supi = random.choice(list(subs))
                try:
                    r = await c.request("POST", f"{core.uri('udm')}/nudm-ueau/v1/{supi}/security-information/generate-auth-data",
                                        json={"servingNetworkName": SNN, "ausfInstanceId": "a0a0a0a0-0000-4000-8000-000000000001"})
                except TransportError:
                    await asyncio.sleep(0.01)
                    continue
                if r.status == 200:
                    seen[supi].append(_sqn_of(r.json()["authenticationVector"], *subs[supi]))
                else:
                    await asyncio.sleep(0.01)

        batch_no = 0

        async def importer() -> None:
            nonlocal batch_no
            while not stop.is_set():
                batch_no += 1
                base = 1_000_000 + batch_no * 100
                batch = {f"imsi-00101{base + j:010d}": _keys(base + j) for j in range(100)}
                try:
                    r = await c.request("POST", core.mgmt_uri + "/mgmt/v1/subscribers-bulk", headers=TOKEN,
                                        json={"subscribers": [{"imsi": s, "k": k, "opc": o} for s, (k, o) in batch.items()]})
                except TransportError:
                    await asyncio.sleep(0.02)
                    continue
                if r.status == 201:
                    acknowledged.update(batch)
                    keys_of.update(batch)

        keys_of: dict[str, tuple[str, str]] = dict(subs)
        tasks = [asyncio.create_task(vectors()) for _ in range(8)] + [asyncio.create_task(importer())]
        await asyncio.sleep(1.5)
        core.procs["udr"].kill()  # SIGKILL mid-load
        await asyncio.sleep(0.5)
        core.procs["udr"].start()
        core.wait_registered(("UDR",))
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*tasks)

        total = sum(len(v) for v in seen.values())
        assert total > 50, "the load did not run"
        store = SubscriberStore(core.config["db_uri"])
        assert store.check() == []
        for supi in acknowledged:
            sub = store.get(supi)  # NotFound would fail the test: an acknowledged record was lost
            k, opc = keys_of[supi]
            assert (sub.k.hex(), sub.opc.hex()) == (k, opc)
        for supi, sqns in seen.items():
            assert len(sqns) == len(set(sqns)), f"{supi}: two vectors shared a SQN"
            if sqns:
                assert store.get(supi).sqn >= max(sqns), f"{supi}: SQN went backwards"
        # After the restart, vectors continue above everything handed out before.
        for supi in [s for s, v in seen.items() if v][:5]:
            r = await c.request("POST", f"{core.uri('udm')}/nudm-ueau/v1/{supi}/security-information/generate-auth-data",
                                json={"servingNetworkName": SNN, "ausfInstanceId": "a0a0a0a0-0000-4000-8000-000000000001"})
            assert r.status == 200
            assert _sqn_of(r.json()["authenticationVector"], *keys_of[supi]) > max(seen[supi])
        store.close()
