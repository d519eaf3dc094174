"""The network under test: ``fivecore up`` in a child process, on addresses of its own.

This is the single-host layout of ARCHITECTURE.md (control-plane NFs in one process calling
each other through the in-process SBI binding, the UPF in a process of its own), started
exactly as a user starts it (``python -m fivecore.cli.main up --config FILE``) and found
through the state file ``up`` writes when every NF is ready. Addresses (127.<a>.<b>.x in
Open5GS's single-host pattern), the N6 TUN name and the UE pool are the benchmark's own, so a
run can go on beside ``fivecore up``, ``fivecore demo`` or end-to-end tests on the same host.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fivecore.errors import FivecoreError

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "e8ed289deba952e4283b54e88e6183ca"
FIRST_IMSI = "001010000000001"

#: Open5GS's single-host layout: the last octet of each NF's address
LAYOUT = {"smf": 4, "amf": 5, "upf": 7, "nrf": 10, "ausf": 11, "udm": 12, "pcf": 13, "nssf": 14, "udr": 20}


class BenchError(FivecoreError):
    """The benchmark could not set up or run the network."""


def pool_for(n_ues: int, second_octet: int = 88) -> str:
    """The smallest 10.<x>.0.0/len pool with room for ``n_ues`` addresses (at least a /16)."""
    plen = 16
    while plen > 8 and (1 << (32 - plen)) - 4 < n_ues:
        plen -= 1
    net = ipaddress.ip_network(f"10.{second_octet}.0.0/{plen}", strict=False)
    return str(net)


@dataclass
class NetPlan:
    """Where the benchmark's network lives."""

    prefix: str = "127.88.0"        # NF addresses <prefix>.<LAYOUT[nf]>
    gnb_prefix: str = "127.88.1"    # simulated gNBs' N2/N3 addresses <gnb_prefix>.<i+1>
    tun: str = "fcbench0"
    pool: str = "10.88.0.0/16"
    log_level: str = "warning"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def slot(cls, slot: int = 0, n_ues: int = 0, **kw: Any) -> NetPlan:
        """Plan number ``slot`` (0..7): disjoint addresses, TUN name and UE pool, so several
        benchmark networks (a ``make bench`` and an end-to-end test) can run at once."""
        if not 0 <= slot <= 7:
            raise BenchError("slot must be 0..7")
        octet = 88 + 2 * slot
        return cls(prefix=f"127.{octet}.0", gnb_prefix=f"127.{octet}.1", tun=f"fcbench{slot}",
                   pool=pool_for(n_ues, 128 + 16 * slot) if n_ues > 65_000 else f"10.{octet}.0.0/16", **kw)

    def address(self, nf: str) -> str:
        return f"{self.prefix}.{LAYOUT[nf]}"

    def config(self, data_dir: Path, hn_private_hex: str) -> dict[str, Any]:
        """A complete ``up`` configuration (every other key at its default)."""
        a = {n: self.address(n) for n in LAYOUT}
        nrf = f"http://{a['nrf']}:7777"
        cfg: dict[str, Any] = {
            "logging": {"level": self.log_level, "file": str(data_dir.parent / "up.log")},
            "up": {"data_dir": str(data_dir)},
            "home_network_keys": [{"id": 1, "scheme": "A", "private_key": hn_private_hex}],
            "nrf": {"sbi": {"address": a["nrf"]}},
            "upf": {"pfcp_address": a["upf"], "gtpu_address": a["upf"], "tun_name": self.tun, "subnet": self.pool},
            "smf": {"sbi": {"address": a["smf"]}, "nrf_uri": nrf, "pfcp": {"address": a["smf"]},
                    "upfs": [{"address": a["upf"]}], "dnns": [{"dnn": "internet", "ipv4_pool": self.pool}]},
            "amf": {"sbi": {"address": a["amf"]}, "nrf_uri": nrf, "ngap": {"address": a["amf"]}},
            "udr": {"sbi": {"address": a["udr"]}, "nrf_uri": nrf, "mgmt": {"address": a["udr"]}},
        }
        for n in ("ausf", "udm", "pcf", "nssf"):
            cfg[n] = {"sbi": {"address": a[n]}, "nrf_uri": nrf}
        for n in LAYOUT:
            if n != "upf":
                cfg[n]["sbi"]["port"] = 7777
        for k, v in self.extra.items():
            cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
        return cfg


class BenchNetwork:
    """``with BenchNetwork(plan) as net:`` starts ``fivecore up`` and stops it (and all it made)."""

    def __init__(self, plan: NetPlan | None = None, workdir: Path | None = None, keep: bool = False,
                 ready_timeout: float = 60.0) -> None:
        from fivecore.security import suci

        self.plan = plan or NetPlan()
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="fivecore-bench-"))
        self.keep = keep
        self.ready_timeout = ready_timeout
        priv, pub = suci.generate_hn_keypair(1)
        self.hn_private, self.hn_public = priv, pub
        self.proc: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}
        #: how ``fivecore`` is started (an experiment may wrap it, e.g. in a profiler)
        self.launcher: list[str] = [sys.executable, "-m", "fivecore.cli.main"]
        #: extra environment for the core's process
        self.env: dict[str, str] = {}

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> BenchNetwork:
        if os.geteuid() != 0:
            raise BenchError("root rights needed: the core's UPF creates a TUN device and the AMF speaks "
                             "SCTP over raw IP (run with sudo, or as root)")
        data = self.workdir / "data"
        cfg = self.plan.config(data, self.hn_private.hex())
        cfg_path = self.workdir / "bench-up.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        os.chmod(cfg_path, 0o600)
        out = open(self.workdir / "up.stderr", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [*self.launcher, "up", "--config", str(cfg_path)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **self.env},
        )
        out.close()
        state_file = data / "run" / "up.json"
        deadline = time.monotonic() + self.ready_timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"fivecore up exited ({self.proc.returncode}): {self._last_error()}")
                if state_file.exists():
                    with contextlib.suppress(ValueError, OSError):
                        self.state = json.loads(state_file.read_text())
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"fivecore up not ready after {self.ready_timeout:.0f}s: {self._last_error()}")
                time.sleep(0.1)
            down = {n: v.get("reason") for n, v in self.state["nfs"].items() if v.get("status") != "running"}
            if down:
                raise BenchError("the core is incomplete: " + "; ".join(f"{n}: {why}" for n, why in down.items()))
        except BaseException:
            self.stop()
            raise
        return self

    def _last_error(self) -> str:
        for name in ("up.stderr", "up.log"):
            with contextlib.suppress(OSError):
                lines = [ln for ln in (self.workdir / name).read_text(errors="replace").splitlines() if ln.strip()]
                if lines:
                    return lines[-1][-300:]
        return "no output"

    def stop(self) -> None:
        """SIGTERM ``up`` (it removes its TUN and stops the UPF), SIGKILL its group if it hangs."""
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        if Path(f"/sys/class/net/{self.plan.tun}").exists():
            subprocess.run(["ip", "link", "del", self.plan.tun], capture_output=True)
        if self._own_dir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BenchNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a benchmark needs ----------------------------------------------------------------

    @property
    def pids(self) -> dict[str, int]:
        """The core's processes: the control plane (``up`` itself) and the UPF."""
        assert self.proc is not None
        out = {"core-cp": self.proc.pid}
        upf = self.state.get("nfs", {}).get("upf", {}).get("pid")
        if upf:
            out["upf"] = int(upf)
        return out

    @property
    def ngap(self) -> tuple[str, int]:
        host, port = self.state["ngap"].rsplit(":", 1)
        return host, int(port)

    def provision(self, n: int, first_imsi: str = FIRST_IMSI) -> int:
        """``n`` subscribers, IMSIs counting up from ``first_imsi`` (one K/OPc), via the store API."""
        from fivecore.store import Subscriber, SubscriberStore

        store = SubscriberStore(self.state["db_uri"])
        try:
            first, width = int(first_imsi), len(first_imsi)
            kb, ob = bytes.fromhex(K), bytes.fromhex(OPC)
            return store.add_many(
                (Subscriber(f"imsi-{str(first + i).zfill(width)}", k=kb, opc=ob, profile="default")
                 for i in range(n)), replace=True)
        finally:
            store.close()

    def ran_config(self, first_imsi: str = FIRST_IMSI) -> dict[str, Any]:
        """The simulator's configuration: SUCI Profile A with this core's home-network key."""
        host, port = self.ngap
        mcc, mnc = self.state["plmn"]["mcc"], self.state["plmn"]["mnc"]
        slices = [{"sst": s["sst"], **({"sd": s["sd"]} if s.get("sd") else {})} for s in self.state["slices"]]
        ue = {
            "supi": f"imsi-{first_imsi}", "mcc": mcc, "mnc": mnc, "key": K, "op": OPC, "opType": "OPC",
            "protectionScheme": 1, "homeNetworkPublicKey": self.hn_public.hex(), "homeNetworkPublicKeyId": 1,
            "sessions": [{"type": "IPv4", "apn": self.state["dnn"], "slice": slices[0]}],
            "configured-nssai": slices, "default-nssai": slices,
        }
        gnb = {"mcc": mcc, "mnc": mnc, "tac": self.state["tac"], "slices": slices, "amfAddress": host,
               "amfPort": port}
        return {"gnb": gnb, "ue": ue}


class SplitNetwork(BenchNetwork):
    """Every NF in a process of its own (``fivecore nf NAME``; the UPF as ``up`` runs it), HTTP/2
    between them: the deployment layout of ARCHITECTURE.md, used where memory must be told
    apart per NF (the AMF's and the SMF's share of a UE)."""

    ORDER = ("nrf", "udr", "udm", "ausf", "pcf", "nssf", "smf", "amf")

    def __init__(self, plan: NetPlan | None = None, workdir: Path | None = None, keep: bool = False,
                 ready_timeout: float = 60.0) -> None:
        super().__init__(plan, workdir, keep, ready_timeout)
        self.nfs: dict[str, Any] = {}
        self.upf: subprocess.Popen[bytes] | None = None

    def split_config(self) -> dict[str, Any]:
        """The configuration every process of the split network reads. Its ``upf`` section gets
        what ``fivecore up`` hands its UPF (:func:`fivecore.netup.network.upf_nrf_settings`):
        this network's NRF URI, so the UPF registers its NFProfile (TS 23.501 §6.3.3.3), and
        the SMF's slices and DNNs as what its ``upfInfo`` advertises."""
        from fivecore.config import load_config
        from fivecore.netup.network import upf_nrf_settings

        cfg = self.plan.config(self.workdir / "data", self.hn_private.hex())
        cfg["db_uri"] = f"sqlite:///{self.workdir / 'subscribers.db'}"
        cfg.pop("up", None)
        cfg["logging"] = {"level": self.plan.log_level}
        settings = upf_nrf_settings(load_config(cfg), runs_nrf=True)
        for key, value in settings.items():  # config models (slices, ipv6_ra entries) as YAML
            if isinstance(value, list):
                settings[key] = [v.model_dump(mode="json", exclude_none=True) if hasattr(v, "model_dump") else v
                                 for v in value]
        cfg["upf"] = {**cfg["upf"], **settings}
        return cfg

    def start(self) -> SplitNetwork:
        from fivecore.config import load_config
        from fivecore.nf.common.launch import NfProcess, discover_sync

        if os.geteuid() != 0:
            raise BenchError("root rights needed: the UPF creates a TUN device and the AMF speaks SCTP over raw IP")
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self.split_config()
        cfg_path = self.workdir / "bench-split.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        eff = load_config(cfg)
        try:
            with open(self.workdir / "upf.log", "ab") as err:
                self.upf = subprocess.Popen([sys.executable, "-m", "fivecore.netup.upf_proc", "--config", str(cfg_path)],
                                            stdout=subprocess.PIPE, stderr=err, start_new_session=True)
            assert self.upf.stdout is not None
            line = self.upf.stdout.readline()
            if b"upf_ready" not in line:
                raise BenchError(f"upf did not start: {line.decode(errors='replace').strip() or 'no output'}")
            for name in self.ORDER:
                self.nfs[name] = NfProcess(name, cfg, self.workdir).start(self.ready_timeout)
            nrf = self.nfs["nrf"].uri
            deadline = time.monotonic() + self.ready_timeout
            missing: list[str] = []
            while time.monotonic() < deadline:
                missing = []
                # the UPF too: it started before the NRF and registers once the NRF answers
                for t in ("UDR", "UDM", "AUSF", "PCF", "NSSF", "SMF", "AMF", "UPF"):
                    try:
                        if not discover_sync(nrf, t):
                            missing.append(t)
                    except OSError:
                        missing.append(t)
                if not missing:
                    break
                time.sleep(0.2)
            else:
                raise BenchError(f"not registered with the NRF: {', '.join(missing)}")
            self.state = {
                "db_uri": cfg["db_uri"], "ngap": f"{eff.amf.ngap.address}:{eff.amf.ngap.port}",
                "plmn": {"mcc": eff.plmn.mcc, "mnc": eff.plmn.mnc}, "tac": eff.amf.tacs[0],
                "slices": [s.model_dump() for s in eff.amf.slices], "dnn": eff.smf.dnns[0].dnn,
            }
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name in reversed(list(self.nfs)):
            self.nfs.pop(name).stop()
        p, self.upf = self.upf, None
        if p is not None:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
            if p.stdout is not None:
                p.stdout.close()
        if Path(f"/sys/class/net/{self.plan.tun}").exists():
            subprocess.run(["ip", "link", "del", self.plan.tun], capture_output=True)
        if self._own_dir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def pids(self) -> dict[str, int]:
        out = {n: p.pid for n, p in self.nfs.items() if p.alive()}
        if self.upf is not None:
            out["upf"] = self.upf.pid
        return out



class AmfSetNetwork(BenchNetwork):
    """``fivecore up`` with ``up.amf_set_size: members``: the control plane as ``members``
    processes of one AMF Set (:mod:`fivecore.netup.amf_set`), one NRF, store and UPF."""

    def __init__(self, plan: NetPlan | None = None, members: int = 2, workdir: Path | None = None,
                 keep: bool = False, ready_timeout: float = 60.0) -> None:
        if not 1 <= members <= 8:
            raise BenchError("an AMF Set here has 1..8 members")
        super().__init__(plan, workdir, keep, ready_timeout)
        self.members = members
        self.plan.extra = {**self.plan.extra, "up": {**self.plan.extra.get("up", {}), "amf_set_size": members}}

    @property
    def member_ngap(self) -> list[tuple[str, int]]:
        """Each member's NGAP endpoint, member 0 (``up`` itself) first."""
        out = []
        for e in self.state.get("amf_set") or []:
            host, port = e["ngap"].rsplit(":", 1)
            out.append((host, int(port)))
        return out

    @property
    def pids(self) -> dict[str, int]:
        out = super().pids
        for e in self.state.get("amf_set") or []:
            if e["member"] > 0 and e.get("pid"):
                out[f"core-cp{e['member'] + 1}"] = int(e["pid"])
        return out
