"""Start NRF, UDR, UDM, AUSF and the AMF as five processes, for end-to-end tests and benchmarks.

    with AmfCore(tmpdir, amf={"security": {"ciphering_order": ["NEA0"]}}) as core:
        core.provision(1000)                      # subscribers imsi-001010000000001...
        ran_cfg = core.ran_config(scheme_cycle=[0, 1, 2])
        core.amf_stats()                          # the AMF's counters over its SBI port

Home network keys for SUCI Profile A (id 1) and B (id 2) are generated per run.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from pathlib import Path
from typing import Any

from fivecore.nf.common.launch import Core, NfProcess, free_port
from fivecore.security import suci

DEFAULT_K = "465b5ce8b199b49faa5f0a2ee238a6bc"
DEFAULT_OPC = "e8ed289deba952e4283b54e88e6183ca"
FIRST_IMSI = "001010000000001"


def free_sctp_port() -> int:
    """A port for the userspace SCTP listener (raw IP: nothing to bind, so pick an unlikely one)."""
    return random.randint(40000, 59999)


class AmfCore(Core):
    """:class:`fivecore.nf.common.launch.Core` plus an AMF process."""

    ORDER = ("nrf", "udr", "udm", "ausf", "amf")

    def __init__(self, workdir: Path, amf: dict[str, Any] | None = None, host: str = "127.0.0.1", **extra: Any) -> None:
        self.hn_a = suci.generate_hn_keypair(1)
        self.hn_b = suci.generate_hn_keypair(2)
        keys = [
            {"id": 1, "scheme": "A", "private_key": self.hn_a[0].hex()},
            {"id": 2, "scheme": "B", "private_key": self.hn_b[0].hex()},
        ]
        super().__init__(workdir, home_network_keys=keys, **extra)
        nrf_uri = self.config["udm"]["nrf_uri"]
        amf_cfg: dict[str, Any] = {
            "sbi": {"address": host, "port": free_port(host)},
            "nrf_uri": nrf_uri,
            "ngap": {"address": host, "port": free_sctp_port()},
        }
        for k, v in (amf or {}).items():
            amf_cfg[k] = v
        self.config["amf"] = amf_cfg
        self.procs["amf"] = NfProcess("amf", self.config, self.workdir)

    @classmethod
    def launch(cls, workdir: Path, tries: int = 3, **kw: Any) -> AmfCore:
        """Construct and start, retrying with fresh ports when one was taken meanwhile (the
        free ports are picked before the processes bind them; a busy machine can race us)."""
        last: Exception | None = None
        for i in range(tries):
            core = cls(Path(workdir) / f"try{i}", **kw)
            try:
                return core.start()
            except (RuntimeError, TimeoutError) as exc:
                core.stop()
                last = exc
        assert last is not None
        raise last

    @property
    def ngap(self) -> tuple[str, int]:
        n = self.config["amf"]["ngap"]
        return n["address"], int(n["port"])

    def start(self, timeout: float = 30.0) -> AmfCore:
        for n in self.ORDER:
            self.procs[n].start(timeout)
        self.wait_registered(("UDR", "UDM", "AUSF", "AMF"), timeout)
        return self

    def provision(self, n: int, first_imsi: str = FIRST_IMSI, k: str = DEFAULT_K, opc: str = DEFAULT_OPC,
                  sqn: int = 0, auth_method: str = "5G_AKA") -> None:
        """Add ``n`` subscribers with IMSIs counting up from ``first_imsi`` (same K/OPc)."""
        from fivecore.store import Subscriber, SubscriberStore

        store = SubscriberStore(self.config["db_uri"])
        try:
            kb, ob = bytes.fromhex(k), bytes.fromhex(opc)
            width = len(first_imsi)
            store.add_many(
                (Subscriber(f"imsi-{str(int(first_imsi) + i).zfill(width)}", k=kb, opc=ob, sqn=sqn,
                            auth_method=auth_method, profile="default")
                 for i in range(n)),
                replace=True,
            )
        finally:
            store.close()

    def ran_config(self, first_imsi: str = FIRST_IMSI, scheme_cycle: list[int] | None = None,
                   k: str = DEFAULT_K, opc: str = DEFAULT_OPC, **ue: Any) -> dict[str, Any]:
        """A simulator configuration pointing at this AMF (UE fields may be overridden)."""
        host, port = self.ngap
        ue_cfg: dict[str, Any] = {
            "supi": f"imsi-{first_imsi}",
            "key": k,
            "op": opc,
            "opType": "OPC",
            "protectionScheme": 1,
            "homeNetworkPublicKey": self.hn_a[1].hex(),
            "homeNetworkPublicKeyId": 1,
            "homeNetworkPublicKeys": [{"id": 2, "key": self.hn_b[1].hex()}],
        }
        if scheme_cycle:
            ue_cfg["protectionSchemeCycle"] = scheme_cycle
        ue_cfg.update(ue)
        return {"gnb": {"amfAddress": host, "amfPort": port}, "ue": ue_cfg}

    def amf_stats(self) -> dict[str, Any]:
        """The AMF's counters (``GET /fivecore-amf/v1/stats`` over HTTP/1.1 on its SBI port)."""
        with urllib.request.urlopen(self.procs["amf"].uri + "/fivecore-amf/v1/stats", timeout=5) as r:  # noqa: S310
            return json.loads(r.read())

    def counters(self) -> dict[str, int]:
        return dict(self.amf_stats()["counters"])

    async def acounters(self) -> dict[str, int]:
        """:meth:`counters` without blocking the caller's event loop (the simulator's SCTP
        stack lives on that loop: a blocking call there would stall every association)."""
        return await asyncio.to_thread(self.counters)

    async def acounters_full(self) -> dict[str, Any]:
        """:meth:`amf_stats` without blocking the event loop."""
        return await asyncio.to_thread(self.amf_stats)

    async def idle_and_stored(self) -> bool:
        """Every UE the AMF holds is CM-IDLE and nothing waits for the next persistence flush
        (fivecore.nf.amf.persist): what a restart now would find on disk is all there is."""
        st = await self.acounters_full()
        return st["cm_connected"] == 0 and not (st.get("persist") or {}).get("pending")

    async def wait_counter(self, name: str, at_least: int, timeout: float = 10.0) -> int:
        """Poll the AMF's counter ``name`` until it reaches ``at_least`` (or time runs out)."""
        deadline = time.monotonic() + timeout
        v = 0
        while time.monotonic() < deadline:
            v = (await self.acounters()).get(name, 0)
            if v >= at_least:
                return v
            await asyncio.sleep(0.05)
        return v
