"""Start NFs as separate processes (``fivecore nf NAME --config FILE``) — for end-to-end tests,
benchmarks and scripts that need real processes talking HTTP/2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class NfProcess:
    """One NF in its own process; the config (a dict) is written next to its log."""

    def __init__(self, name: str, config: dict[str, Any], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.config = config
        self.workdir = Path(workdir)
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.cfg_path = self.workdir / f"{name}.yaml"
        self.log_path = self.workdir / f"{name}.log"

    @property
    def sbi(self) -> tuple[str, int]:
        sbi = self.config[self.name]["sbi"]
        return sbi["address"], int(sbi["port"])

    @property
    def uri(self) -> str:
        host, port = self.sbi
        return f"http://{host}:{port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> NfProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text(yaml.safe_dump(self.config))
        env = {**os.environ, **(self.env or {})}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fivecore.cli.main", "nf", self.name, "--config", str(self.cfg_path)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir,
        )
        log.close()
        host, port = self.sbi
        try:
            wait_port(host, port, timeout, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def core_config(db_uri: str, host: str = "127.0.0.1", **extra: Any) -> dict[str, Any]:
    """A configuration for NRF, UDR, UDM and AUSF on free ports of ``host`` (each NF's
    ``nrf_uri`` points at the NRF; peers are found by discovery)."""
    ports = {n: free_port(host) for n in ("nrf", "udr", "udm", "ausf", "mgmt")}
    nrf_uri = f"http://{host}:{ports['nrf']}"
    cfg: dict[str, Any] = {
        "db_uri": db_uri,
        "logging": {"level": "warning"},
        "nrf": {"sbi": {"address": host, "port": ports["nrf"]}, "heartbeat_timer": 2},
        "udr": {"sbi": {"address": host, "port": ports["udr"]}, "nrf_uri": nrf_uri,
                "mgmt": {"address": host, "port": ports["mgmt"], "token": "test-token"}},
        "udm": {"sbi": {"address": host, "port": ports["udm"]}, "nrf_uri": nrf_uri},
        "ausf": {"sbi": {"address": host, "port": ports["ausf"]}, "nrf_uri": nrf_uri},
    }
    for key, val in extra.items():
        if isinstance(val, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **val}
        else:
            cfg[key] = val
    return cfg


def discover_sync(nrf_uri: str, target: str, requester: str = "AMF") -> list[dict[str, Any]]:
    """NFDiscovery over HTTP/1.1 with the standard library (for scripts and test set-up)."""
    import json
    import urllib.request

    url = f"{nrf_uri}/nnrf-disc/v1/nf-instances?target-nf-type={target}&requester-nf-type={requester}"
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL we built
        return list(json.loads(resp.read()).get("nfInstances") or [])


class Core:
    """NRF, UDR, UDM and AUSF as four processes (see :func:`core_config`); ``with Core(dir) as c:``."""

    ORDER = ("nrf", "udr", "udm", "ausf")

    def __init__(self, workdir: Path, db_uri: str | None = None, **extra: Any) -> None:
        self.workdir = Path(workdir)
        db_uri = db_uri or f"sqlite:///{self.workdir / 'subscribers.db'}"
        self.config = core_config(db_uri, **extra)
        self.procs = {n: NfProcess(n, self.config, self.workdir) for n in self.ORDER}

    def uri(self, name: str) -> str:
        return self.procs[name].uri

    @property
    def mgmt_uri(self) -> str:
        m = self.config["udr"]["mgmt"]
        return f"http://{m['address']}:{m['port']}"

    def start(self, timeout: float = 30.0) -> Core:
        for n in self.ORDER:
            self.procs[n].start(timeout)
        self.wait_registered(("UDR", "UDM", "AUSF"), timeout)
        return self

    def wait_registered(self, types: tuple[str, ...], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        missing = list(types)
        while time.monotonic() < deadline:
            missing = [t for t in types if not _safe_discover(self.uri("nrf"), t)]
            if not missing:
                return
            time.sleep(0.1)
        raise TimeoutError(f"not registered with the NRF: {missing}")

    def stop(self) -> None:
        for n in reversed(self.ORDER):
            self.procs[n].stop()

    def __enter__(self) -> Core:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _safe_discover(nrf_uri: str, target: str) -> list[dict[str, Any]]:
    try:
        return discover_sync(nrf_uri, target)
    except OSError:
        return []
