"""``up.amf_set_size``: more control-plane processes on one host, as members of one AMF Set.

One Python process runs on one core, so ``fivecore up``'s control plane tops out at one core.
TS 23.501 §5.21.2 scales the AMF out as several AMFs of one AMF Set: the same AMF Region and
Set ID, each its own AMF Pointer (so a 5G-GUTI names the AMF that issued it, TS 23.003 §2.10),
each gNB keeping NG connections to the AMFs of the set it uses. Member ``m`` (1 .. size-1) is
one more process, ``fivecore nf udr udm ausf pcf nssf amf smf``, whose NFs call each other
in-process exactly as ``up``'s own do; it registers with ``up``'s NRF, shares the subscriber
store (SQLite in WAL mode, or PostgreSQL) and the UPF, and its SMF hands out addresses from its
own share of every DNN's pool. Nothing crosses between members on a UE's path. A member that
dies is started again with the same configuration (``up.restart``, :mod:`.supervise`); its NF
instance ids are fixed in that configuration, so its NRF profiles are replaced, not doubled.

Addresses: member ``m`` uses ``up``'s loopback addresses with the third octet raised by
``10 * m`` (AMF 127.0.0.5 -> 127.0.10.5 -> 127.0.20.5; NGAP on the AMF's address), so the
members need loopback IPv4 addresses; on several hosts run ``fivecore nf ...`` per member with
a configuration of its own instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from fivecore.config import Config
from fivecore.errors import ConfigError
from fivecore.netup.supervise import RestartPolicy, RestartTracker

log = logging.getLogger("fivecore.up")

#: the NFs of a member process (``up``'s start order; the NRF stays in ``up``)
MEMBER_NFS = ("udr", "udm", "ausf", "pcf", "nssf", "amf", "smf")
#: third-octet step between members' loopback addresses
STEP = 10


def member_address(address: str, m: int) -> str:
    """``address`` moved to member ``m``'s loopback block (see the module docstring)."""
    ip = ipaddress.IPv4Address(address)
    if not ip.is_loopback:
        raise ConfigError(f"up.amf_set_size: {address} is not a loopback address (members of an AMF Set "
                          "on one host use loopback blocks; on several hosts run `fivecore nf` per member)")
    o = ip.packed
    third = o[2] + STEP * m
    if third > 255:
        raise ConfigError(f"up.amf_set_size: no room for member {m} above {address}")
    return str(ipaddress.IPv4Address(bytes((o[0], o[1], third, o[3]))))


def pool_shares(pool: str, size: int) -> list[str]:
    """``pool`` cut into ``size`` equal shares (the next power of two; the rest unused)."""
    net = ipaddress.IPv4Network(pool)
    bits = (size - 1).bit_length()
    if net.prefixlen + bits > 30:
        raise ConfigError(f"smf.dnns: pool {pool} too small to share among {size} AMF Set members")
    return [str(s) for s in list(net.subnets(prefixlen_diff=bits))[:size]]


def check(cfg: Config) -> None:
    """Every reason the members could not be laid out, before anything starts."""
    size = cfg.up.amf_set_size
    if size == 1:
        return
    for m in range(1, size):
        for n in MEMBER_NFS:
            member_address(cfg.section(n).sbi.address, m)
        member_address(cfg.amf.ngap.address, m)
        member_address(cfg.smf.pfcp.address, m)
    if cfg.amf.guami.pointer + size - 1 > 63:
        raise ConfigError(f"amf.guami.pointer: {cfg.amf.guami.pointer} leaves no AMF Pointer (6 bits) for "
                          f"{size} members")
    for d in cfg.smf.dnns:
        pool_shares(d.ipv4_pool, size)


def first_member(cfg: Config, pools: list[list[str]]) -> Config:
    """``up``'s own configuration as member 0: its SMF keeps the first share of each pool
    (``pools[i]``: the shares of DNN ``i``'s pool, :func:`pool_shares`; empty for one member)."""
    if not pools:
        return cfg
    dnns = [d.model_copy(update={"ipv4_pool": shares[0]}) for d, shares in zip(cfg.smf.dnns, pools, strict=True)]
    return cfg.model_copy(update={"smf": cfg.smf.model_copy(update={"dnns": dnns})})


def member_config(doc: dict[str, Any], pools: list[list[str]], m: int, nrf_uri: str,
                  data_dir: Path) -> dict[str, Any]:
    """Member ``m``'s configuration from ``up``'s effective one (``doc``, as dumped).

    ``pools[i]`` holds the shares of DNN ``i``'s whole pool.
    """
    d = yaml.safe_load(yaml.safe_dump(doc))  # a deep copy of plain data
    for n in MEMBER_NFS:
        sec = d.setdefault(n, {})
        sec.setdefault("sbi", {})["address"] = member_address(sec["sbi"]["address"], m)
        sec["nrf_uri"] = nrf_uri
        # each member registers as NF instances of its own, fixed here so that a restarted
        # member's NFRegister (a PUT on the same nfInstanceId, TS 29.510 §5.2.2.2.2) replaces
        # its old profiles in the NRF instead of adding a second set beside them; name-based
        # (RFC 9562 §5.5) on the member's data directory, so a whole `up` started again on the
        # same data is the same instances: the UDM's registrations of the UEs an AMF kept on
        # disk (fivecore.nf.amf.persist) still name their AMF
        sec["nf_instance_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                               f"fivecore-amf-set/{Path(data_dir).resolve()}/{m}/{n}"))
    amf, smf = d["amf"], d["smf"]
    amf["ngap"]["address"] = member_address(amf["ngap"]["address"], m)
    amf["guami"]["pointer"] = int(amf["guami"]["pointer"]) + m
    amf["data_dir"] = str(data_dir)  # its own RAN exposure ledger
    smf["pfcp"]["address"] = member_address(smf["pfcp"]["address"], m)
    for dnn, shares in zip(smf["dnns"], pools, strict=True):
        dnn["ipv4_pool"] = shares[m]
    udr = d["udr"]
    if "mgmt" in udr:
        udr["mgmt"]["address"] = member_address(udr["mgmt"]["address"], m)
    if d.get("metrics", {}).get("address"):
        d["metrics"]["enabled"] = False  # one shared metrics address: the members would collide
    for n in ("up", "upf", "nrf", "demo"):
        d.pop(n, None)
    return d


class Member:
    """One further member process (``fivecore nf udr ... smf``); its config and log in ``run_dir``.

    ``status``: ``running``; ``restarting`` (exited, a restart is pending, :mod:`.supervise`);
    ``exited`` (not restarted: ``up.restart``); ``failed`` (``up.restart_max`` reached).
    """

    def __init__(self, m: int, doc: dict[str, Any], run_dir: Path, policy: RestartPolicy | None = None) -> None:
        self.m = m
        self.doc = doc
        self.cfg_path = run_dir / f"member{m}.yaml"
        self.log_path = run_dir / f"member{m}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.tracker = RestartTracker(policy or RestartPolicy())
        self.status = "running"

    @property
    def ngap(self) -> str:
        return f"{self.doc['amf']['ngap']['address']}:{self.doc['amf']['ngap'].get('port', 38412)}"

    def metrics_uri(self, nf: str) -> str | None:
        """Where ``nf``'s metrics and info API of this member listen (None when disabled)."""
        m = self.doc.get("metrics") or {}
        if m.get("enabled", True) is False:
            return None
        port = (m.get("ports") or {}).get(nf, m.get("port", 9090))
        return f"http://{self.doc[nf]['sbi']['address']}:{port}"

    def start(self) -> None:
        fd = os.open(self.cfg_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(self.doc, f, sort_keys=False)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fivecore.cli.main", "nf", *MEMBER_NFS, "--config", str(self.cfg_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.status = "running"
        log.info("event=amf_set_member_started member=%d pid=%d ngap=%s", self.m, self.proc.pid, self.ngap)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 300) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return text[-n:].replace("\n", " | ")

    def terminate(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 10.0) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        log.info("event=amf_set_member_stopped member=%d", self.m)
        with contextlib.suppress(OSError):
            self.cfg_path.unlink()


def stop_stale(pids: list[int]) -> None:
    """SIGTERM members a killed ``up`` left running (only processes that are ``fivecore nf``)."""
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"fivecore.cli.main" in cmd and b"nf" in cmd:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            log.warning("event=stale_amf_set_member_stopped pid=%d", pid)
