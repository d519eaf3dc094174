"""``fivecore up``: the whole core on one host.

The control-plane NFs (NRF, UDR, UDM, AUSF, PCF, NSSF, AMF, SMF) run in this process, sharing
one asyncio loop and calling each other through the in-process SBI binding while still serving
their SBI on their own addresses; the UPF runs in a child process
(:mod:`fivecore.netup.upf_proc`) so the user plane never shares a GIL with signalling.

Embedded defaults (:func:`prepare`): a data directory (``up.data_dir``: $FIVECORE_DATA or
``./var``) holding the SQLite subscriber store and a SUCI home-network key pair (Profile A, key
id 1) generated on first start and kept there (``hn-key-1.key`` private, ``hn-key-1.pub``
public, for UE configurations); PLMN 001/01, TAC 1, SST 1, DNN ``internet``, UE pool
10.45.0.0/16 behind the N6 TUN ``ogstun``.

Before anything is created the checks run (:func:`preflight`): root rights for the TUN and
for raw-IP SCTP, every TCP/UDP port free, no leftover N6 device, no other ``fivecore up`` on the
same data directory. Each failure is one :class:`~fivecore.errors.FivecoreError` line. What
``up`` creates (the UPF process and with it the TUN, NAT rules, the state file) it removes on
SIGINT/SIGTERM or on a start-up failure.

While it runs, ``up`` supervises the processes it started (``up.restart``,
:mod:`fivecore.netup.supervise`): an AMF Set member or the UPF that exits on its own is started
again with the same configuration after a back-off, the rest of the core serving meanwhile; the
restarted UPF re-opens the N6 device ``up`` owns (created again if it went away). The SMFs see
the UPF's new Recovery Time Stamp and associate again (TS 29.244 §6.2.2, §6.2.6).

The state file ``<data_dir>/run/up.json`` tells ``fivecore status`` and ``fivecore demo``
where everything is, and how often each supervised process was restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fivecore.config import Config, HomeNetworkKey, load_config
from fivecore.errors import ConfigError, FivecoreError
from fivecore.netup import amf_set
from fivecore.netup.supervise import Decision, RestartPolicy, RestartTracker, describe_status
from fivecore.runtime import install_fast_loop, settle_heap

log = logging.getLogger("fivecore.up")

#: start order: the NRF first, the data layer before its users, the AMF and SMF last
CP_ORDER = ("nrf", "udr", "udm", "ausf", "pcf", "nssf", "smf", "amf")


def n6_ipv6_address(pool: str) -> str:
    """``<pool>::1/<pool length>``: the N6 side's address in an IPv6 prefix pool; its first
    /64 is never a session's (:class:`fivecore.nf.smf.context.Ipv6PrefixPool`)."""
    net = ipaddress.IPv6Network(pool, strict=False)
    return f"{net.network_address + 1}/{net.prefixlen}"


class NetworkError(FivecoreError):
    """``fivecore up`` could not start or run the network."""


@dataclass
class Plan:
    """The effective configuration and the files ``up`` uses."""

    config: Config
    data_dir: Path
    run_dir: Path
    state_file: Path
    config_file: Path
    hn_public_keys: dict[int, str] = field(default_factory=dict)


# --- preparation ------------------------------------------------------------------------------


def prepare(config: Config, *, generate_keys: bool = True) -> Plan:
    """Data directory, SQLite store and SUCI key pair; returns the effective config."""
    data_dir = config.up.data_dir.expanduser().resolve()
    run_dir = data_dir / "run"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"up.data_dir: cannot create {data_dir}: {exc.strerror or exc}") from None
    changes: dict[str, Any] = {}
    if config.uses_default_store():
        changes["db_uri"] = config.store_uri()
    pubs: dict[int, str] = {}
    if not config.home_network_keys and generate_keys:
        priv_path, pub_path = data_dir / "hn-key-1.key", data_dir / "hn-key-1.pub"
        if not priv_path.exists():
            from fivecore.security import suci

            priv, pub = suci.generate_hn_keypair(1)
            fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(priv.hex() + "\n")
            pub_path.write_text(pub.hex() + "\n")
            log.info("event=hn_key_generated scheme=A id=1 public_key_file=%s", pub_path)
        changes["home_network_keys"] = [HomeNetworkKey(id=1, scheme="A", private_key_file=priv_path)]
    for hk in changes.get("home_network_keys", config.home_network_keys):
        pub = _public_key(hk)
        if pub:
            pubs[hk.id] = pub
    config_file = run_dir / "effective.yaml"
    amf_changes: dict[str, Any] = {}
    if config.amf.data_dir is None:  # the RAN exposure ledger goes beside the store
        amf_changes["data_dir"] = data_dir
    if config.trust is not None and config.amf.trust_policy is None:
        # an inline ``trust:`` section: the AMF reads it from the effective config file
        amf_changes["trust_policy"] = config_file
    if amf_changes:
        changes["amf"] = config.amf.model_copy(update=amf_changes)
    eff = config.model_copy(update=changes)
    return Plan(eff, data_dir, run_dir, run_dir / "up.json", config_file, pubs)


def _public_key(hk: HomeNetworkKey) -> str | None:
    """The public key for a configured private key (what UEs need in their USIM)."""
    try:
        priv = hk.key_bytes()
    except ConfigError:
        return None
    try:
        if hk.scheme == "A":
            from cryptography.hazmat.primitives.asymmetric import x25519

            return x25519.X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes_raw().hex()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.derive_private_key(int.from_bytes(priv, "big"), ec.SECP256R1())
        return key.public_key().public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.CompressedPoint).hex()
    except (ValueError, TypeError):
        return None


def dump_config(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data (paths as strings)."""
    return config.model_dump(mode="json")


def upf_ra_settings(cfg: Config) -> dict[str, Any]:
    """``upf.ipv6_ra`` from ``up``'s SMF DNNs, unless the file sets it: each DNN with an IPv6
    prefix pool advertises its MTU and the IPv6 entries of its ``dns`` list in the Router
    Advertisements (RFC 4861 §4.6.4, RFC 8106 §5.1; why the UPF holds them:
    fivecore.nf.upf.ndp). The SMF's IPv4 entries go in PCO as before."""
    if "ipv6_ra" in cfg.upf.model_fields_set:
        return {}
    from fivecore.nf.upf.config import UpfRaConfig

    entries = []
    for d in cfg.smf.dnns:
        if not d.ipv6_prefix_pool:
            continue
        dns = []
        for a in d.dns:
            with contextlib.suppress(ValueError):
                addr = ipaddress.ip_address(a)
                if addr.version == 6 and not (addr.is_multicast or addr.is_unspecified):
                    dns.append(str(addr))
        # an IPv6 link is never below 1280 (RFC 8200 §5), whatever the DNN's IPv4 MTU
        entries.append(UpfRaConfig(dnn=d.dnn, mtu=max(d.mtu, 1280), dns=dns))
    return {"ipv6_ra": entries} if entries else {}


def upf_nrf_settings(cfg: Config, runs_nrf: bool) -> dict[str, Any]:
    """What ``up`` hands the UPF it starts for its NRF registration (TS 23.501 §6.3.3.3),
    where the file leaves it open: the URI of the NRF ``up`` runs (a restarted UPF reads the
    same file and keeps its derived nfInstanceId, fivecore.nf.upf.nrf), and as the slices and
    DNNs its ``upfInfo`` advertises, those of ``up``'s SMF, which uses this one UPF for all.
    The per-DNN Router Advertisement options come along (:func:`upf_ra_settings`), so that
    every caller that starts ``up``'s UPF hands it the same DNN settings."""
    out: dict[str, Any] = upf_ra_settings(cfg)
    if runs_nrf and "nrf_uri" not in cfg.upf.model_fields_set:
        out["nrf_uri"] = cfg.nrf.sbi.uri
    if "slices" not in cfg.upf.model_fields_set:
        from fivecore.nf.upf.config import UpfSliceConfig

        per_slice: dict[tuple[int, str | None], list[str]] = {}
        for d in cfg.smf.dnns:
            for sl in d.slices:
                dnns = per_slice.setdefault((sl.sst, sl.sd.lower() if sl.sd else None), [])
                if d.dnn not in dnns:
                    dnns.append(d.dnn)
        if per_slice:
            out["slices"] = [UpfSliceConfig(sst=sst, sd=sd, dnns=dnns) for (sst, sd), dnns in per_slice.items()]
    return out


def redacted(doc: Any) -> Any:
    """``doc`` with secrets (private keys, tokens, K/OPc) replaced by ``<redacted>``."""
    secret = {"private_key", "token", "k", "opc", "op"}
    if isinstance(doc, dict):
        return {k: ("<redacted>" if k in secret and v not in (None, "") else redacted(v)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redacted(v) for v in doc]
    return doc


# --- pre-flight checks ------------------------------------------------------------------------


def available_cp(config: Config) -> tuple[list[str], dict[str, str]]:
    """(control-plane NFs we can start, {NF: why not}) for ``up.control_plane``."""
    from fivecore.cli.nf import NF_APPS

    ok: list[str] = []
    missing: dict[str, str] = {}
    wanted = [n for n in CP_ORDER if n in config.up.control_plane]
    for name in wanted:
        target = NF_APPS.get(name)
        if target is None:
            missing[name] = "not built yet (no entry in fivecore.cli.nf.NF_APPS)"
            continue
        module, _, cls = target.partition(":")
        try:
            getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            missing[name] = f"cannot be loaded: {exc}"
            continue
        ok.append(name)
    return ok, missing


def upf_available() -> str | None:
    """None if the UPF can be loaded, else why not."""
    try:
        importlib.import_module("fivecore.nf.upf.app")
    except ImportError as exc:
        return f"cannot be loaded: {exc}"
    return None


def endpoints(config: Config, cp: list[str], with_upf: bool) -> list[tuple[str, str, str, int]]:
    """(what, proto, address, port) of every socket ``up`` binds."""
    from fivecore.netup.observe import metrics_endpoint

    eps: list[tuple[str, str, str, int]] = []
    for name in cp:
        sec = config.section(name)
        eps.append((f"{name} SBI", "tcp", sec.sbi.address, sec.sbi.port))
        if config.metrics.enabled:
            eps.append((f"{name} metrics", "tcp", *metrics_endpoint(name, config)))
    if "udr" in cp and config.udr.mgmt.enabled:
        eps.append(("udr management API", "tcp", config.udr.mgmt.address, config.udr.mgmt.port))
    if "smf" in cp:
        eps.append(("smf PFCP", "udp", config.smf.pfcp.address, config.smf.pfcp.port))
    for m in range(1, config.up.amf_set_size):
        for name in amf_set.MEMBER_NFS:
            sec = config.section(name)
            eps.append((f"AMF Set member {m} {name} SBI", "tcp", amf_set.member_address(sec.sbi.address, m),
                        sec.sbi.port))
        eps.append((f"AMF Set member {m} smf PFCP", "udp", amf_set.member_address(config.smf.pfcp.address, m),
                    config.smf.pfcp.port))
    if with_upf:
        u = config.upf
        eps.append(("upf PFCP", "udp", u.pfcp_address, u.pfcp_port))
        eps.append(("upf GTP-U", "udp", u.gtpu_address, u.gtpu_port))
        if config.metrics.enabled:
            eps.append(("upf metrics", "tcp", *metrics_endpoint("upf", config)))
    return eps


def check_port(proto: str, address: str, port: int) -> str | None:
    """None if ``address:port`` can be bound, else the reason."""
    if port == 0:
        return None
    fam = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "already in use"
        return exc.strerror or str(exc)
    finally:
        s.close()
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_root(cfg: Config) -> None:
    if os.geteuid() != 0:
        raise NetworkError(
            f"root rights needed: the UPF creates the N6 TUN device {cfg.upf.tun_name} and the AMF speaks "
            "SCTP over raw IP (run with sudo, or as root)")


def state_path(config: Config) -> Path:
    return config.up.data_dir.expanduser().resolve() / "run" / "up.json"


def recover_stale(cfg: Config) -> None:
    """A previous ``up`` on this data dir was killed (-9, power loss): remove its N6 TUN and
    state so this start does not trip over them. Only what that run recorded is touched."""
    path = state_path(cfg)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if _pid_alive(int(state.get("pid", 0))):
        return
    amf_set.stop_stale([int(e["pid"]) for e in state.get("amf_set") or [] if e.get("pid")])
    tun = (state.get("nfs", {}).get("upf") or {}).get("tun")
    if tun and state.get("tun_created") and Path(f"/sys/class/net/{tun}").exists():
        subprocess.run(["ip", "link", "del", tun], capture_output=True)
        log.warning("event=stale_tun_removed name=%s pid=%s", tun, state.get("pid"))
    nat = state.get("nat") or {}
    if nat.get("kind") == "nft" and str(nat.get("table", "")).startswith("fivecore_"):
        subprocess.run(["nft", "delete", "table", "ip", nat["table"]], capture_output=True)
        log.warning("event=stale_nat_removed table=%s", nat["table"])
    with contextlib.suppress(OSError):
        path.unlink()


def preflight(cfg: Config, cp: list[str], with_upf: bool) -> None:
    """Every reason ``up`` would fail half-way, checked before anything is created."""
    check_root(cfg)
    amf_set.check(cfg)
    path = state_path(cfg)
    try:
        state = json.loads(path.read_text())
        if _pid_alive(int(state.get("pid", 0))):
            raise NetworkError(f"fivecore up is already running (pid {state['pid']}, state {path})")
    except (OSError, ValueError):
        pass
    for what, proto, addr, port in endpoints(cfg, cp, with_upf):
        why = check_port(proto, addr, port)
        if why:
            raise NetworkError(f"{what}: cannot listen on {addr}:{port} ({proto}): {why}")
    if with_upf and cfg.upf.tun_create and Path(f"/sys/class/net/{cfg.upf.tun_name}").exists():
        raise NetworkError(f"upf.tun_name: network device {cfg.upf.tun_name} already exists "
                           "(another core running?); remove it or choose another name")
    if cfg.up.nat and not (shutil.which("nft") or shutil.which("iptables")):
        raise NetworkError("up.nat: needs nft or iptables (apt-get install nftables), or set up.nat: false")


# --- NAT ----------------------------------------------------------------------------------------


class Nat:
    """Masquerade the UE pool towards the host's other interfaces (nftables, else iptables)."""

    def __init__(self, subnet: str, tun: str) -> None:
        self.subnet = subnet
        self.tun = tun
        self.kind: str | None = None
        # one table per `up` process: two cores on one host never delete each other's rules
        self.table = f"fivecore_{os.getpid()}"

    def add(self) -> None:
        if shutil.which("nft"):
            rules = (f"table ip {self.table} {{\n chain post {{\n  type nat hook postrouting priority 100;\n"
                     f"  ip saddr {self.subnet} oifname != \"{self.tun}\" masquerade\n }}\n}}\n")
            r = subprocess.run(["nft", "-f", "-"], input=rules.encode(), capture_output=True)
            if r.returncode != 0:
                raise NetworkError(f"up.nat: nft refused the NAT rule: {r.stderr.decode().strip()}")
            self.kind = "nft"
        else:
            r = subprocess.run(["iptables", "-t", "nat", "-A", "POSTROUTING", "-s", self.subnet, "!", "-o", self.tun,
                                "-j", "MASQUERADE"], capture_output=True)
            if r.returncode != 0:
                raise NetworkError(f"up.nat: iptables refused the NAT rule: {r.stderr.decode().strip()}")
            self.kind = "iptables"

    def remove(self) -> None:
        if self.kind == "nft":
            subprocess.run(["nft", "delete", "table", "ip", self.table], capture_output=True)
        elif self.kind == "iptables":
            subprocess.run(["iptables", "-t", "nat", "-D", "POSTROUTING", "-s", self.subnet, "!", "-o", self.tun,
                            "-j", "MASQUERADE"], capture_output=True)
        self.kind = None


# --- the running network ------------------------------------------------------------------------


class Network:
    """Start, hold and stop the core (see module docstring). ``await net.start()``, ``await net.stop()``."""

    def __init__(self, plan: Plan, pcap: Path | None = None) -> None:
        self.plan = plan
        size = plan.config.up.amf_set_size
        #: each DNN's pool cut into one share per AMF Set member; ``up``'s SMF keeps share 0
        self.member_pools = [amf_set.pool_shares(d.ipv4_pool, size) for d in plan.config.smf.dnns] if size > 1 else []
        self.config = amf_set.first_member(plan.config, self.member_pools)
        self.members: list[amf_set.Member] = []
        self.pcap = pcap
        self.cp_names, self.unavailable = available_cp(self.config)
        why = upf_available()
        if why:
            self.unavailable["upf"] = why
        self.apps: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.upf: subprocess.Popen[bytes] | None = None
        self.upf_info: dict[str, Any] = {}
        self.nat: Nat | None = None
        self.capture: Any = None
        self._started: list[str] = []
        self._tun_created: str | None = None
        #: the N6 device ``up`` created at start; a restarted UPF gets it back (_ensure_tun)
        self._tun_owned: str | None = None
        self._watch: asyncio.Task[None] | None = None
        self.ready_at: float | None = None
        self.policy = RestartPolicy.from_config(plan.config.up)
        self.upf_tracker = RestartTracker(self.policy)
        #: the UPF as the state file shows it: running, restarting, exited or failed
        self.upf_status = "running"
        #: set first thing in stop(): from then on an exit is expected, never restarted
        self._stopping = False
        self._restarts: set[asyncio.Task[None]] = set()

    @property
    def with_upf(self) -> bool:
        return "upf" not in self.unavailable

    async def start(self) -> None:
        plan, cfg = self.plan, self.config
        preflight(cfg, self.cp_names, self.with_upf)
        for name, why in self.unavailable.items():
            log.warning("event=nf_unavailable nf=%s reason=%r", name, why)
        t0 = time.monotonic()
        try:
            upf_cfg = cfg
            upf_update: dict[str, Any] = {}
            if self.with_upf and cfg.upf.tun_create:
                # ``up`` owns the N6 device: created here with iproute2, handed to the UPF to
                # open, deleted in stop() even if the UPF process dies
                self._create_tun()
                upf_update["tun_create"] = False
            upf_update.update(upf_nrf_settings(cfg, "nrf" in self.cp_names))
            if upf_update:
                upf_cfg = cfg.model_copy(update={"upf": cfg.upf.model_copy(update=upf_update)})
            plan.config_file.write_text(yaml.safe_dump(dump_config(upf_cfg), sort_keys=False))
            os.chmod(plan.config_file, 0o600)
            if self.pcap is not None:
                from fivecore.netup.capture import LoopbackCapture

                self.capture = LoopbackCapture(self.pcap, self._capture_addresses())
                self.capture.start()
            if self.with_upf:
                await self._start_upf()
            await self._start_cp()
            await self._wait_registered(cfg.up.ready_timeout)
            if cfg.up.amf_set_size > 1:
                await self._start_members(cfg.up.ready_timeout)
            if cfg.up.nat and self.with_upf:
                self.nat = Nat(cfg.upf.subnet, cfg.upf.tun_name)
                self.nat.add()
                log.info("event=nat_added subnet=%s via=%s table=%s", cfg.upf.subnet, self.nat.kind, self.nat.table)
        except BaseException:
            await self.stop()
            raise
        self.ready_at = time.monotonic()
        self.write_state()
        if self.members or self.upf is not None:
            self._watch = asyncio.create_task(self._supervise(), name="up-supervise")
        log.info("event=network_ready nfs=%s seconds=%.2f", ",".join(self._started), self.ready_at - t0)

    def _create_tun(self) -> None:
        u = self.config.upf
        name = u.tun_name
        cmds = [["tuntap", "add", "name", name, "mode", "tun"], ["addr", "add", u.tun_address, "dev", name]]
        if u.tun_mtu:
            cmds.append(["link", "set", name, "mtu", str(u.tun_mtu)])
        cmds.append(["link", "set", name, "up"])
        # IPv6 PDU sessions (TS 23.501 §5.8.2.2.3): the pool's first /64 (which the SMF never
        # hands out) gives N6 its address, and the pool's route points into the TUN
        cmds += [["-6", "addr", "add", n6_ipv6_address(d.ipv6_prefix_pool), "dev", name, "nodad"]
                 for d in self.config.smf.dnns if d.ipv6_prefix_pool]
        for i, args in enumerate(cmds):
            r = subprocess.run(["ip", *args], capture_output=True, text=True)
            if r.returncode != 0:
                raise NetworkError(f"upf.tun_name: cannot create N6 device {name}: {r.stderr.strip()}")
            if i == 0:
                self._tun_created = self._tun_owned = name
        log.info("event=n6_tun_created name=%s address=%s", name, u.tun_address)

    def _capture_addresses(self) -> set[str]:
        cfg = self.config
        addrs = {cfg.section(n).sbi.address for n in self.cp_names}
        addrs |= {cfg.amf.ngap.address, cfg.smf.pfcp.address, cfg.upf.pfcp_address, cfg.upf.gtpu_address}
        return addrs

    async def _start_upf(self) -> None:
        cmd = [sys.executable, "-m", "fivecore.netup.upf_proc", "--config", str(self.plan.config_file)]
        log_path = self.plan.run_dir / "upf.log"
        # Popen from the loop's (main) thread: the UPF's PR_SET_PDEATHSIG fires when the thread
        # that forked it ends, so a worker thread would take the UPF down with it
        with open(log_path, "ab") as errf:
            self.upf = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, start_new_session=True)
        assert self.upf.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.config.up.ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NetworkError(f"upf: not ready after {self.config.up.ready_timeout:.0f}s (log {log_path})")
            try:
                line = await asyncio.wait_for(loop.run_in_executor(None, self.upf.stdout.readline), remaining)
            except TimeoutError:
                continue
            if not line:
                tail = _tail(log_path)
                raise NetworkError(f"upf: exited with status {self.upf.wait()}" + (f": {tail}" if tail else ""))
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("event") == "upf_failed":
                raise NetworkError(f"upf: {doc.get('error')}")
            if doc.get("event") == "upf_ready":
                self.upf_info = doc
                if "upf" not in self._started:
                    self._started.append("upf")
                log.info("event=nf_ready nf=upf pid=%d pfcp=%s gtpu=%s tun=%s", self.upf.pid, doc.get("pfcp"),
                         doc.get("gtpu"), doc.get("tun"))
                return

    async def _start_cp(self) -> None:
        from fivecore.cli.nf import load_app_class
        from fivecore.netup.observe import server_for
        from fivecore.nf.common.client import LocalRegistry

        local = LocalRegistry()
        for name in self.cp_names:
            cls = load_app_class(name)
            app = cls(self.config, local=local)
            sec = self.config.section(name)
            try:
                await app.start()
            except OSError as exc:
                raise NetworkError(f"{name}: cannot listen on {sec.sbi.address}:{sec.sbi.port}: "
                                   f"{exc.strerror or exc}") from None
            self.apps[name] = app
            if self.config.metrics.enabled:
                srv = server_for(name, app, self.config)
                await srv.start()
                self.metrics[name] = srv
            self._started.append(name)
            log.info("event=nf_started nf=%s sbi=%s", name, sec.sbi.uri)

    async def _wait_registered(self, timeout: float) -> None:
        pending = {n: a for n, a in self.apps.items() if n != "nrf"}
        try:
            await asyncio.wait_for(asyncio.gather(*(a.registered.wait() for a in pending.values())), timeout)
        except TimeoutError:
            late = [n for n, a in pending.items() if not a.registered.is_set()]
            hint = (" (the trust policy refuses NFs without an allowed vendor: set <nf>.vendor_id)"
                    if self.config.trust is not None else " (see the log for the NRF's answer)")
            raise NetworkError(f"not registered with the NRF after {timeout:.0f}s: {', '.join(late)}{hint}") from None
        for name in self.apps:
            log.info("event=nf_ready nf=%s", name)

    async def _start_members(self, timeout: float) -> None:
        """Start AMF Set members 1.. and wait until the NRF knows every member's NFs."""
        from fivecore.nf.common.launch import discover_sync

        cfg = self.config
        doc = dump_config(cfg)
        nrf_uri = cfg.nrf.sbi.uri
        for m in range(1, cfg.up.amf_set_size):
            member = amf_set.Member(m, amf_set.member_config(doc, self.member_pools, m, nrf_uri,
                                                             self.plan.data_dir / f"member{m}"),
                                    self.plan.run_dir, self.policy)
            self.members.append(member)
            member.start()
        types = ("UDR", "UDM", "AUSF", "PCF", "NSSF", "AMF", "SMF")
        deadline = time.monotonic() + timeout
        counts: dict[str, int] = {}
        while True:
            for member in self.members:
                if not member.alive():
                    raise NetworkError(f"AMF Set member {member.m} exited: {member.tail()}")
            counts = {t: len(await asyncio.to_thread(discover_sync, nrf_uri, t)) for t in types}
            if all(c >= cfg.up.amf_set_size for c in counts.values()):
                break
            if time.monotonic() > deadline:
                raise NetworkError(f"AMF Set members not registered with the NRF after {timeout:.0f}s "
                                   f"({counts}): {self.members[-1].tail()}")
            await asyncio.sleep(0.2)
        log.info("event=amf_set_ready members=%d", cfg.up.amf_set_size)

    # --- supervision (up.restart, fivecore.netup.supervise) --------------------------------------

    async def _supervise(self, period: float = 0.5) -> None:
        """Notice AMF Set members and the UPF exiting while ``up`` runs, and restart them as
        ``up.restart`` says (a member's gNBs lose their AMF and its UEs must register again
        through another member meanwhile; a UPF's sessions are lost until its SMFs restore them)."""
        while not self._stopping:
            await asyncio.sleep(period)
            try:
                changed = False
                for mb in self.members:
                    if mb.status == "running" and not mb.alive():
                        self._member_exited(mb)
                        changed = True
                if self.upf is not None and self.upf_status == "running" and self.upf.poll() is not None:
                    self._upf_exited()
                    changed = True
                if changed and not self._stopping:
                    self.write_state()
            except Exception:  # e.g. a full disk for the state file: keep supervising
                log.exception("event=supervise_error")

    def _spawn_restart(self, coro: Any, name: str) -> None:
        t: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._restarts.add(t)
        t.add_done_callback(self._restarts.discard)

    def _member_exited(self, mb: amf_set.Member) -> None:
        status = mb.proc.returncode if mb.proc else None
        d = mb.tracker.on_exit(status, time.monotonic())
        log.error("event=amf_set_member_exited member=%d status=%s (%s) log=%s last=%r", mb.m, status,
                  describe_status(status), mb.log_path, mb.tail(200))
        if d.restart:
            mb.status = "restarting"
            self._spawn_restart(self._restart_member(mb, d), f"restart-member{mb.m}")
            return
        mb.status = "failed" if d.gave_up else "exited"
        if d.gave_up:
            log.critical("event=amf_set_member_restart_gave_up member=%d restarts=%d reason=%r log=%s "
                         "-- this member stays down; its gNBs must use another member", mb.m, mb.tracker.restarts,
                         d.reason, mb.log_path)
        else:
            log.warning("event=amf_set_member_not_restarted member=%d reason=%r", mb.m, d.reason)

    async def _restart_member(self, mb: amf_set.Member, d: Decision) -> None:
        """Start member ``mb`` again with the configuration it had: the same addresses, AMF
        Pointer, pool share and NF instance ids (the NRF replaces its profiles)."""
        await asyncio.sleep(d.delay)
        if self._stopping:
            return
        try:
            mb.start()
        except OSError as exc:  # cannot even fork: counts as one more failed try
            log.error("event=amf_set_member_restart_failed member=%d try=%d err=%s", mb.m, d.attempt, exc)
            mb.proc = None
            self._member_exited(mb)
            self.write_state()
            return
        assert mb.proc is not None
        log.warning("event=amf_set_member_restarted member=%d try=%d restarts=%d pid=%d backoff_s=%.1f", mb.m,
                    d.attempt, mb.tracker.restarts, mb.proc.pid, d.delay)
        self.write_state()

    def _upf_exited(self) -> None:
        assert self.upf is not None
        status = self.upf.returncode
        log.error("event=upf_exited pid=%d status=%s (%s) log=%s last=%r", self.upf.pid, status,
                  describe_status(status), self.plan.run_dir / "upf.log", _tail(self.plan.run_dir / "upf.log", 200))
        self._upf_decide(self.upf_tracker.on_exit(status, time.monotonic()))

    def _upf_decide(self, d: Decision) -> None:
        if d.restart:
            self.upf_status = "restarting"
            self._spawn_restart(self._restart_upf(d), "restart-upf")
            return
        self.upf_status = "failed" if d.gave_up else "exited"
        if d.gave_up:
            log.critical("event=upf_restart_gave_up restarts=%d reason=%r log=%s -- no user plane: PDU sessions "
                         "cannot be established", self.upf_tracker.restarts, d.reason, self.plan.run_dir / "upf.log")
        else:
            log.warning("event=upf_not_restarted reason=%r", d.reason)

    async def _restart_upf(self, d: Decision) -> None:
        """Start the UPF again (same configuration file, same N6 device). It comes up with a
        new Recovery Time Stamp and no PFCP association or session; each SMF notices the new
        stamp in its next Heartbeat exchange, associates again and restores or releases its
        sessions (TS 29.244 §6.2.2, §6.2.6, §19A; fivecore.nf.smf.pfcp)."""
        await asyncio.sleep(d.delay)
        if self._stopping:
            return
        old = self.upf
        if old is not None and old.stdout is not None:
            old.stdout.close()
        try:
            self._ensure_tun()
            await self._start_upf()
        except (NetworkError, OSError) as exc:
            status = await self._reap_upf()
            log.error("event=upf_restart_failed try=%d status=%s err=%s", d.attempt, status, exc)
            if not self._stopping:
                self._upf_decide(self.upf_tracker.on_exit(status, time.monotonic()))
                self.write_state()
            return
        self.upf_status = "running"
        assert self.upf is not None
        log.warning("event=upf_restarted try=%d restarts=%d pid=%d backoff_s=%.1f", d.attempt,
                    self.upf_tracker.restarts, self.upf.pid, d.delay)
        self.write_state()

    async def _reap_upf(self) -> int | None:
        """A UPF start that failed: make sure that process is gone; its exit status."""
        p = self.upf
        if p is None:
            return None
        loop = asyncio.get_running_loop()
        try:  # one that said upf_failed exits by itself (status 2): keep that status
            rc = await loop.run_in_executor(None, p.wait, 5.0)
        except subprocess.TimeoutExpired:  # not ready in time and still running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            rc = await loop.run_in_executor(None, p.wait)
        if p.stdout is not None:
            p.stdout.close()
        return rc

    def _ensure_tun(self) -> None:
        """Before a UPF restart: the N6 device ``up`` created is persistent, so it normally
        outlived the dead UPF and the new one simply opens it again; if it went away (deleted
        by hand, or with a UPF that created a non-persistent one), create it again. A device
        ``up`` did not create (``upf.tun_create: false``) is the operator's: left alone."""
        name = self._tun_owned
        if name is None:
            return
        if Path(f"/sys/class/net/{name}").exists():
            subprocess.run(["ip", "link", "set", name, "up"], capture_output=True)
            self._tun_created = name  # still ours to remove at stop
            log.info("event=n6_tun_reused name=%s", name)
            return
        log.warning("event=n6_tun_gone name=%s -- creating it again", name)
        self._tun_created = None
        self._create_tun()

    def state(self) -> dict[str, Any]:
        cfg = self.config
        from fivecore.netup.observe import metrics_endpoint

        nfs: dict[str, Any] = {}
        for name in self._started:
            entry: dict[str, Any] = {"status": "running"}
            if name == "upf":
                entry.update(status=self.upf_status, pid=self.upf.pid if self.upf else None,
                             pfcp=self.upf_info.get("pfcp"), gtpu=self.upf_info.get("gtpu"),
                             tun=self.upf_info.get("tun"), restarts=self.upf_tracker.restarts,
                             last_exit=self.upf_tracker.last_exit)
            else:
                entry["sbi"] = cfg.section(name).sbi.uri
            if cfg.metrics.enabled:
                a, p = metrics_endpoint(name, cfg)
                entry["metrics"] = f"http://{a}:{p}"
            nfs[name] = entry
        for name, why in self.unavailable.items():
            nfs[name] = {"status": "unavailable", "reason": why}
        return {
            "pid": os.getpid(),
            "started": time.time(),
            "data_dir": str(self.plan.data_dir),
            "config": str(self.plan.config_file),
            "db_uri": cfg.db_uri,
            "plmn": {"mcc": cfg.plmn.mcc, "mnc": cfg.plmn.mnc},
            "ngap": f"{cfg.amf.ngap.address}:{cfg.amf.ngap.port}",
            "tac": cfg.amf.tacs[0],
            "slices": [s.model_dump() for s in cfg.amf.slices],
            "dnn": cfg.smf.dnns[0].dnn,
            "ue_pool": cfg.upf.subnet,
            "home_network_public_keys": {str(k): v for k, v in self.plan.hn_public_keys.items()},
            "tun_created": self._tun_created is not None,
            "nat": {"kind": self.nat.kind, "table": self.nat.table} if self.nat is not None else None,
            "nfs": nfs,
            "amf_set": [{"member": 0, "pid": os.getpid(), "ngap": f"{cfg.amf.ngap.address}:{cfg.amf.ngap.port}",
                         "status": "running",
                         "amf_pointer": cfg.amf.guami.pointer, "ue_pools": [d.ipv4_pool for d in cfg.smf.dnns],
                         "metrics": {nf: nfs.get(nf, {}).get("metrics") for nf in ("amf", "smf")}}]
            + [{"member": mb.m, "pid": mb.proc.pid if mb.proc else None, "ngap": mb.ngap,
                "status": mb.status, "restarts": mb.tracker.restarts, "last_exit": mb.tracker.last_exit,
                "amf_pointer": mb.doc["amf"]["guami"]["pointer"],
                "ue_pools": [d["ipv4_pool"] for d in mb.doc["smf"]["dnns"]], "log": str(mb.log_path),
                "metrics": {nf: mb.metrics_uri(nf) for nf in ("amf", "smf")}}
               for mb in self.members],
        }

    def write_state(self) -> None:
        tmp = self.plan.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state(), indent=2))
        os.replace(tmp, self.plan.state_file)

    async def stop(self) -> None:
        """Undo everything ``start`` did, in reverse; never raises."""
        # first of all: what exits from here on is being stopped, not restarted
        self._stopping = True
        pending = [t for t in (self._watch, *self._restarts) if t is not None]
        self._watch = None
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        with contextlib.suppress(OSError):
            self.plan.state_file.unlink()
        if self.nat is not None:
            self.nat.remove()
        members, self.members = self.members, []
        for mb in members:  # before the NRF they deregister from
            mb.terminate()
        for mb in members:
            await asyncio.get_running_loop().run_in_executor(None, mb.wait, 10.0)
        for name in reversed(list(self.apps)):
            srv = self.metrics.pop(name, None)
            if srv is not None:
                with contextlib.suppress(Exception):
                    await srv.stop()
            app = self.apps.pop(name)
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(app.stop(), 5)
            except Exception as exc:  # keep tearing down the others
                log.warning("event=nf_stop_failed nf=%s err=%r", name, exc)
            log.info("event=nf_stopped nf=%s seconds=%.2f", name, time.monotonic() - t0)
        if self.upf is not None:
            if self.upf.poll() is None:
                self.upf.send_signal(signal.SIGTERM)
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.upf.wait, 5)
                except subprocess.TimeoutExpired:
                    self.upf.kill()
                    self.upf.wait()
            if self.upf.stdout is not None:
                self.upf.stdout.close()
            log.info("event=nf_stopped nf=upf")
            self.upf = None
        if self._tun_created is not None:
            subprocess.run(["ip", "link", "del", self._tun_created], capture_output=True)
            log.info("event=n6_tun_removed name=%s", self._tun_created)
            self._tun_created = None
        with contextlib.suppress(OSError):
            self.plan.config_file.unlink()
        if self.capture is not None:
            self.capture.stop()
            self.capture = None


def _tail(path: Path, n: int = 300) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return text[-n:].replace("\n", " | ")


# --- entry points -----------------------------------------------------------------------------------


async def run_until_signal(net: Network) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(net.start())  # cleans up after itself when it fails
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C while starting: undo what is up and say so
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            raise NetworkError("interrupted while starting; everything started was stopped")
        stopping.cancel()
        starting.result()
        settle_heap()
        await stop.wait()
        log.info("event=network_stopping")
        await net.stop()
        log.info("event=network_stopped")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def up(config_path: Path | None, pcap: Path | None = None) -> None:
    """``fivecore up``: prepare, start, run until SIGINT/SIGTERM, clean up."""
    from fivecore.obs.logging import setup_logging

    cfg = load_config(config_path)
    setup_logging(cfg.logging.level, fmt=cfg.logging.format,
                  file=str(cfg.logging.file) if cfg.logging.file else None)
    cp, _missing = available_cp(cfg)
    check_root(cfg)
    recover_stale(cfg)
    # before prepare(): a refused start leaves nothing behind, not even ./var
    preflight(cfg, cp, upf_available() is None)
    plan = prepare(cfg)
    net = Network(plan, pcap)
    install_fast_loop()
    asyncio.run(run_until_signal(net))


def read_state(config: Config) -> dict[str, Any]:
    """The state of a running ``fivecore up`` (for ``status`` and ``demo``)."""
    path = state_path(config)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise NetworkError(f"no running network (no {path}); start one with `fivecore up`") from None
    if not _pid_alive(int(state.get("pid", 0))):
        raise NetworkError(f"no running network (pid {state.get('pid')} of {path} has exited)")
    return state
