"""``fivecore demo``: a whole 5G network on this machine, exercised end to end, then removed.

Steps (each timed; the demo passes only if every step passes, and a step that cannot run —
because a layer is missing or an earlier step failed — fails with the reason, never pretends):

1. ``network``      ``fivecore up`` in a child process on a fresh data directory; wait until ready
2. ``provision``    N subscribers written through the subscriber store API
3. ``ng_setup``     the simulator's gNBs connect to the AMF over NGAP/SCTP
4. ``register``     every UE registers (5G-AKA, SUCI Profile A with the generated home key)
5. ``data_network`` a host in its own network namespace behind the UPF's N6
6. ``pdu_session``  every UE opens a PDU session (DNN internet) and gets its interface
7. ``ping``         every UE pings the data-network host through GTP-U and the UPF
8. ``ping6``        with IPv6, every UE pings the data-network host's IPv6 address (``ping -6``)
9. ``tcp``          one UE streams ``demo.tcp_bytes`` to the data-network host; SHA-256 compared
10. ``metrics``     the AMF/SMF/UPF Prometheus counters equal the numbers of UEs and sessions
11. ``teardown``    UEs deregister, the network stops; no TUN, netns or process is left

IPv6 (``demo.ipv6``, ``--ipv6/--no-ipv6``; default: on when the kernel can forward IPv6 between
the demo's own devices only, fivecore.netup.dn): the demo's DNN gets ``demo.ipv6_prefix_pool``
(and an IPv6 DNS server) unless it has a pool of its own, the UEs ask for IPv4v6 sessions
(TS 24.501 §9.11.4.11), each configures prefix + interface identifier from the UPF's Router
Advertisement (which also gives the link MTU and the DNS servers, shown in the
``pdu_session`` step), and the data-network host gets ``demo.dn_ipv6_address``. Without IPv6
there is no ``ping6`` step and the report says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fivecore.config import Config, load_config
from fivecore.errors import FivecoreError
from fivecore.runtime import install_fast_loop


@dataclass
class Step:
    name: str
    title: str
    count: int = 0
    ok: int = 0
    passed: bool = False
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "name": self.name,
            "count": self.count,
            "ok": self.ok,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "latency_ms": {
                "p50": round(1000 * lat[len(lat) // 2], 2) if lat else None,
                "p99": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
            },
            "reason": self.reason,
            **({"detail": self.detail} if self.detail else {}),
        }


class StepFailed(Exception):
    """Ends one step with a reason."""


TITLES = {
    "network": "start the core (fivecore up)",
    "provision": "provision subscribers",
    "ng_setup": "gNB NG Setup",
    "register": "UE registration",
    "data_network": "data network namespace",
    "pdu_session": "PDU session establishment",
    "ping": "ping through the user plane",
    "ping6": "ping -6 through the user plane",
    "tcp": "TCP stream through the user plane",
    "metrics": "Prometheus counters match",
    "teardown": "tear down, nothing left",
}


class Demo:
    """Runs the steps (see module docstring) and collects the report."""

    def __init__(self, config_path: Path | None, n_ues: int | None, *, quiet: bool = False,
                 keep_data: bool = False, progress: Any = None, pcap: Path | None = None,
                 ipv6: bool | None = None) -> None:
        self.pcap = pcap.resolve() if pcap is not None else None
        self.user_config: dict[str, Any] = {}
        if config_path is not None:
            load_config(config_path)  # one clear line for a broken file, before anything starts
            self.user_config = yaml.safe_load(Path(config_path).read_text()) or {}
        self.base: Config = load_config(self.user_config)
        self.n = n_ues or self.base.demo.ues
        self.quiet = quiet
        self.keep_data = keep_data
        self.progress = progress
        self.ipv6, self.ipv6_note = _want_ipv6(self.base.demo.ipv6 if ipv6 is None else ipv6)
        self.steps: dict[str, Step] = {k: Step(k, v) for k, v in TITLES.items() if k != "ping6" or self.ipv6}
        self.workdir: Path | None = None
        self.up_proc: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}
        self.sim: Any = None
        self.up: Any = None
        self.userplane_missing: str | None = None
        self.dn: Any = None
        self.sessions: dict[str, Any] = {}
        self.ping_loss: float | None = None
        self.ping6_loss: float | None = None
        self.tcp_bytes = 0
        self.tcp_mbit_s: float | None = None

    # --- helpers -------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    async def _step(self, name: str, coro_fn: Any, *, needs: tuple[str, ...] = ()) -> bool:
        step = self.steps[name]
        missing = [n for n in needs if not self.steps[n].passed]
        if missing:
            step.reason = f"skipped: needs {', '.join(missing)}"
            return False
        self._say(step.title)
        t0 = time.perf_counter()
        try:
            await coro_fn(step)
            step.passed = step.reason is None and step.ok == step.count
            if not step.passed and step.reason is None:
                step.reason = f"{step.count - step.ok} of {step.count} failed"
        except StepFailed as exc:
            step.reason = str(exc)
        except FivecoreError as exc:
            step.reason = str(exc)
        except Exception as exc:  # a demo bug must still end in a report and a teardown
            step.reason = f"{type(exc).__name__}: {exc}"
        step.seconds = time.perf_counter() - t0
        return step.passed

    # --- steps ---------------------------------------------------------------------------------

    async def _network(self, step: Step) -> None:
        step.count = 1
        self.workdir = Path(tempfile.mkdtemp(prefix="fivecore-demo-"))
        cfg = dict(self.user_config)
        cfg["up"] = {**(cfg.get("up") or {}), "data_dir": str(self.workdir / "data")}
        cfg["logging"] = {**(cfg.get("logging") or {}), "file": str(self.workdir / "up.log")}
        if self.ipv6:
            cfg["smf"] = {**(cfg.get("smf") or {}), "dnns": self._dnns_with_ipv6()}
        cfg_path = self.workdir / "demo.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg))
        self.config = load_config(cfg)
        errf = open(self.workdir / "up.stderr", "wb")  # noqa: SIM115 - child keeps it
        self.up_proc = subprocess.Popen(
            [sys.executable, "-m", "fivecore.cli.main", "up", "--config", str(cfg_path),
             *(["--pcap", str(self.pcap)] if self.pcap else [])],
            stdin=subprocess.DEVNULL, stdout=errf, stderr=subprocess.STDOUT, start_new_session=True,
        )
        errf.close()
        state_file = self.workdir / "data" / "run" / "up.json"
        deadline = time.monotonic() + self.config.up.ready_timeout + 15
        while time.monotonic() < deadline:
            if self.up_proc.poll() is not None:
                err = (self.workdir / "up.stderr").read_text(errors="replace").strip().splitlines()
                raise StepFailed(f"fivecore up exited ({self.up_proc.returncode}): {err[-1] if err else 'no output'}")
            if state_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    self.state = json.loads(state_file.read_text())
                    break
            await asyncio.sleep(0.1)
        else:
            raise StepFailed("fivecore up not ready in time")
        nfs = self.state["nfs"]
        step.detail = {n: v["status"] for n, v in nfs.items()}
        down = {n: v.get("reason") for n, v in nfs.items() if v["status"] != "running"}
        if down:
            step.reason = "; ".join(f"{n} {why}" for n, why in down.items())
        step.ok = 1

    def _dnns_with_ipv6(self) -> list[dict[str, Any]]:
        """The SMF's DNNs, the demo's (the first) with an IPv6 prefix pool (TS 23.501
        §5.8.2.2.3) and an IPv6 DNS server (which the UPF's Router Advertisement carries,
        RFC 8106) when the configuration gives it none."""
        dnns = [d.model_dump(mode="json") for d in self.base.smf.dnns]
        first = dnns[0]
        if not first.get("ipv6_prefix_pool"):
            first["ipv6_prefix_pool"] = self.base.demo.ipv6_prefix_pool
            if not any(":" in a for a in first.get("dns") or []):
                first["dns"] = [*(first.get("dns") or []), DEMO_DNS6]
        return dnns

    async def _provision(self, step: Step) -> None:
        from fivecore.store import Subscriber, SubscriberStore

        d = self.config.demo
        step.count = self.n
        store = SubscriberStore(self.state["db_uri"])
        try:
            first, width = int(d.first_imsi), len(d.first_imsi)
            k, opc = bytes.fromhex(d.k), bytes.fromhex(d.opc)
            step.ok = store.add_many(
                (Subscriber(f"imsi-{str(first + i).zfill(width)}", k=k, opc=opc, profile="default")
                 for i in range(self.n)), replace=True)
        finally:
            store.close()

    def _ran_config(self) -> dict[str, Any]:
        d = self.config.demo
        host, port = self.state["ngap"].rsplit(":", 1)
        pub = self.state["home_network_public_keys"].get("1")
        slices = [{"sst": s["sst"], **({"sd": s["sd"]} if s.get("sd") else {})} for s in self.state["slices"]]
        ue: dict[str, Any] = {
            "supi": f"imsi-{d.first_imsi}",
            "mcc": self.state["plmn"]["mcc"],
            "mnc": self.state["plmn"]["mnc"],
            "key": d.k,
            "op": d.opc,
            "opType": "OPC",
            "protectionScheme": 1 if pub else 0,
            "sessions": [{"type": "IPv4v6" if self.ipv6 else "IPv4", "apn": self.state["dnn"], "slice": slices[0]}],
            "configured-nssai": slices,
            "default-nssai": slices,
        }
        if pub:
            ue.update(homeNetworkPublicKey=pub, homeNetworkPublicKeyId=1)
        gnb = {"mcc": self.state["plmn"]["mcc"], "mnc": self.state["plmn"]["mnc"], "tac": self.state["tac"],
               "slices": slices, "amfAddress": host, "amfPort": int(port)}
        return {"gnb": gnb, "ue": ue}

    async def _ng_setup(self, step: Step) -> None:
        from fivecore.ran.app import RanSim
        from fivecore.ran.config import load_ran_config

        d = self.config.demo
        self.sim = RanSim(load_ran_config(self._ran_config()), d.gnbs, self.n)
        step.count = len(self.sim.gnbs)
        t0 = time.perf_counter()
        await asyncio.wait_for(self.sim.start(), 30)
        step.latencies.append(time.perf_counter() - t0)
        step.ok = sum(1 for g in self.sim.gnbs if g.ready)
        try:
            from fivecore.ran.userplane import UserPlane
        except ImportError as exc:
            self.userplane_missing = f"the simulator has no user plane yet ({exc})"
            return
        # one namespace per UE (like UERANSIM's useNamespace), one N3 address per gNB
        self.up = UserPlane(use_namespace=True, ns_prefix="fcdemo")
        for i, gnb in enumerate(self.sim.gnbs):
            await self.up.add_gnb(gnb, f"{d.gnb_n3_prefix}.{i + 1}")
        # the simulator names UE interfaces fcs<index>p<psi> in this namespace and deletes a
        # same-named one first: start the indexes at a per-process offset so another simulator
        # on the host (a test, a second demo) never loses its interfaces to ours, nor we to it
        base = 1000 * (os.getpid() % 90 + 10)
        for i, ru in enumerate(self.sim.ues):
            self.up.enable(ru, base + i)

    async def _register(self, step: Step) -> None:
        step.count = self.n
        sem = asyncio.Semaphore(200)

        async def one(ru: Any) -> None:
            async with sem:
                t0 = time.perf_counter()
                # follow-on request: the UE keeps its NG connection for the PDU session after
                state = await self.sim.register(ru, 30, follow_on=True)
                if state.name == "REGISTERED":
                    step.ok += 1
                    step.latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(ru) for ru in self.sim.ues))

    async def _data_network(self, step: Step) -> None:
        from fivecore.netup.dn import DataNetwork

        step.count = 1
        v6: dict[str, Any] = {}
        if self.ipv6:
            v6 = {"ipv6_address": self.config.demo.dn_ipv6_address,
                  "ue_pools6": [d.ipv6_prefix_pool for d in self.config.smf.dnns if d.ipv6_prefix_pool],
                  "n6_device": (self.state["nfs"].get("upf") or {}).get("tun") or self.config.upf.tun_name}
        self.dn = DataNetwork(self.config.demo.dn_address, self.state["ue_pool"], **v6)
        self.dn.create()
        step.detail = {"ipv4": self.dn.address, **({"ipv6": self.dn.address6} if self.dn.address6 else {})}
        step.ok = 1

    async def _pdu_session(self, step: Step) -> None:
        step.count = self.n
        if "upf" in self.state["nfs"] and self.state["nfs"]["upf"]["status"] != "running":
            raise StepFailed(f"the UPF is not running: {self.state['nfs']['upf'].get('reason')}")
        if self.up is None:
            raise StepFailed(self.userplane_missing or "the simulator has no user plane")
        registered = [ru for ru in self.sim.ues if ru.ue.state.name == "REGISTERED"]
        sst, sd = self.config.amf.slices[0].as_tuple()
        dnn = self.state["dnn"]
        sem = asyncio.Semaphore(50)

        async def one(ru: Any) -> None:
            async with sem:
                t0 = time.perf_counter()
                try:
                    s = await self.up.establish(ru, 1, dnn, (sst, sd), timeout=30,
                                                pdu_type=PDU_IPV4V6 if self.ipv6 else PDU_IPV4)
                except Exception as exc:
                    step.detail.setdefault("errors", []).append(f"{type(exc).__name__}: {exc}"[:200])
                    return
                self.sessions[ru.ue.supi] = {"netns": self.up.namespace(ru), "ifname": self.up.interface(ru),
                                             "ipv4": s.ipv4, "ipv6": s.ipv6, "ipv6_mtu": s.ipv6_mtu,
                                             "ipv6_dns": list(s.ipv6_dns), "ru": ru}
                if self.ipv6 and s.ipv6 is None:
                    # the demo's DNN has a prefix pool: an IPv4v6 request must get a prefix
                    step.detail.setdefault("errors", []).append(
                        f"{ru.ue.supi}: IPv4v6 asked, session type {s.pdu_type} without an IPv6 address (cause {s.cause})")
                    return
                step.latencies.append(time.perf_counter() - t0)
                step.ok += 1

        await asyncio.gather(*(one(ru) for ru in registered))
        if self.ipv6:
            # what the UPF's Router Advertisements said (RFC 4861 §4.6.4, RFC 8106 §5.1)
            v6 = [x for x in self.sessions.values() if x["ipv6"]]
            step.detail["ipv6_sessions"] = len(v6)
            if v6:
                step.detail["ra_mtu"] = sorted({x["ipv6_mtu"] for x in v6}, key=str)
                step.detail["ra_dns"] = sorted({a for x in v6 for a in x["ipv6_dns"]})
        if "errors" in step.detail:
            step.detail["errors"] = step.detail["errors"][:5]

    async def _ping(self, step: Step) -> None:
        self.ping_loss = await self._ping_all(step, self.sessions, [], self.config.demo.dn_address)

    async def _ping6(self, step: Step) -> None:
        """``ping -6`` from each UE's IPv6 address (prefix from the RA + interface identifier)
        to the data-network host's IPv6 address, routed by the host between N6 and the DN."""
        v6 = {k: x for k, x in self.sessions.items() if x.get("ipv6")}
        if not v6:
            raise StepFailed("no session has an IPv6 address")
        assert self.dn is not None and self.dn.address6 is not None
        self.ping6_loss = await self._ping_all(step, v6, ["-6"], self.dn.address6)

    async def _ping_all(self, step: Step, sessions: dict[str, Any], family: list[str], target: str) -> float:
        """Every session pings ``target``; the step counts those with no loss. Loss in %."""
        if shutil.which("ping") is None:
            raise StepFailed("ping is not installed (apt-get install iputils-ping)")
        count = self.config.demo.ping_count
        step.count = len(sessions)
        sent = received = 0
        sem = asyncio.Semaphore(20)

        async def one(supi: str, sess: Any) -> None:
            nonlocal sent, received
            argv = _ue_command(sess, ["ping", *family, "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "5",
                                      *(_bind_args(sess) if not family else []), target])
            async with sem:
                proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                            stderr=asyncio.subprocess.STDOUT)
                out = (await proc.communicate())[0].decode(errors="replace")
            m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
            rtt = re.search(r"= [\d.]+/([\d.]+)/", out)
            if m:
                sent += int(m.group(1))
                received += int(m.group(2))
                if int(m.group(2)) == int(m.group(1)):
                    step.ok += 1
            else:
                step.detail.setdefault("errors", []).append(out.strip()[-200:])
            if rtt:
                step.latencies.append(float(rtt.group(1)) / 1000)

        await asyncio.gather(*(one(s, x) for s, x in sessions.items()))
        step.detail["sent"], step.detail["received"] = sent, received
        if "errors" in step.detail:
            step.detail["errors"] = step.detail["errors"][:3]
        return 100.0 * (sent - received) / sent if sent else 100.0

    async def _tcp(self, step: Step) -> None:
        step.count = 1
        if not self.sessions:
            raise StepFailed("no PDU session")
        supi, sess = next(iter(self.sessions.items()))
        n = self.config.demo.tcp_bytes
        port = 5201
        server = await asyncio.create_subprocess_exec(
            *self.dn.exec_args(sys.executable, "-c", _TCP_SINK, self.config.demo.dn_address, str(port)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            assert server.stdout is not None
            ready = await asyncio.wait_for(server.stdout.readline(), 10)
            if not ready.startswith(b"ready"):
                raise StepFailed(f"TCP sink did not start: {ready!r}")
            payload_seed = os.urandom(32)
            argv = _ue_command(sess, [sys.executable, "-c", _TCP_SOURCE, self.config.demo.dn_address, str(port),
                                      str(n), payload_seed.hex(), _ue_ip(sess) or ""])
            t0 = time.perf_counter()
            client = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                          stderr=asyncio.subprocess.PIPE)
            c_out, c_err = await asyncio.wait_for(client.communicate(), 120)
            s_out = await asyncio.wait_for(server.stdout.readline(), 30)
            dt = time.perf_counter() - t0
        finally:
            if server.returncode is None:
                server.kill()
            await server.wait()
        try:
            sent = json.loads(c_out)
            got = json.loads(s_out)
        except ValueError:
            raise StepFailed(f"TCP transfer failed: {(c_err or c_out).decode(errors='replace').strip()[-200:]}") from None
        self.tcp_bytes = int(got["bytes"]) if got["sha256"] == sent["sha256"] else 0
        self.tcp_mbit_s = 8 * got["bytes"] / dt / 1e6 if dt > 0 else None
        step.latencies.append(dt)
        step.detail = {"bytes": got["bytes"], "sha256_match": got["sha256"] == sent["sha256"],
                       "mbit_s": round(self.tcp_mbit_s or 0, 1)}
        if got["bytes"] == n and got["sha256"] == sent["sha256"]:
            step.ok = 1

    async def _metrics(self, step: Step) -> None:
        nfs = self.state["nfs"]
        want_reg = self.steps["register"].ok
        want_sess = len(self.sessions)
        checks: list[tuple[str, str, float]] = [
            ("amf", "fivegs_amffunction_rm_reginitreq", self.n),
            ("amf", "fivegs_amffunction_rm_reginitsucc", want_reg),
            ("amf", "fivegs_amffunction_rm_registeredsubnbr", want_reg),
            ("amf", "amf_session", want_sess),
            ("smf", "fivegs_smffunction_sm_sessionnbr", want_sess),
            ("smf", "fivegs_smffunction_sm_pdusessioncreationsucc", want_sess),
            ("upf", "fivegs_upffunction_upf_sessionnbr", want_sess),
        ]
        step.count = len(checks)
        for nf, name, want in checks:
            url = nfs.get(nf, {}).get("metrics")
            if not url:
                step.detail[name] = f"no metrics from {nf} ({nfs.get(nf, {}).get('status', 'absent')})"
                continue
            got = _scrape(url, name)
            step.detail[name] = {"want": want, "got": got}
            if got == want:
                step.ok += 1

    async def _teardown(self, step: Step) -> None:
        step.count = 1
        problems: list[str] = []
        if self.up is not None and self.sessions:
            released = 0
            for sess in self.sessions.values():
                with contextlib.suppress(Exception):
                    await self.up.release(sess["ru"], 1, timeout=10)
                    released += 1
            step.detail["sessions_released"] = released
            if released != len(self.sessions):
                problems.append(f"{len(self.sessions) - released} PDU sessions not released")
        if self.sim is not None:
            reg = [ru for ru in self.sim.ues if ru.ue.state.name == "REGISTERED"]
            if reg:
                res = await self.sim.deregister_all(reg, concurrency=min(200, len(reg)), timeout=10)
                step.detail["deregistered"] = res["ok"]
                if res["ok"] != len(reg):
                    problems.append(f"{len(reg) - res['ok']} UEs did not deregister")
        await self.cleanup()
        tun = self.config.upf.tun_name if hasattr(self, "config") else "ogstun"
        if Path(f"/sys/class/net/{tun}").exists():
            problems.append(f"N6 device {tun} still exists")
        if self.dn is not None and self.dn.exists():
            problems.append(f"netns {self.dn.name} still exists")
        if problems:
            step.reason = "; ".join(problems)
        step.ok = 1

    async def cleanup(self) -> None:
        """Stop everything the demo started (idempotent; also runs on errors and Ctrl-C)."""
        if self.up is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.up.close(), 20)
            self.up = None
        if self.sim is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sim.stop(), 10)
            self.sim = None
        if self.dn is not None:
            self.dn.remove()
        if self.up_proc is not None and self.up_proc.poll() is None:
            self.up_proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.up_proc.wait, 20)
            except subprocess.TimeoutExpired:
                os.killpg(self.up_proc.pid, signal.SIGKILL)
                self.up_proc.wait()
                # what the killed `up` could not remove (its N6 TUN), as the next `up` would
                from fivecore.netup.network import recover_stale

                recover_stale(self.config)

    # --- the whole run -----------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        from fivecore.netup.network import check_root

        check_root(self.base)
        try:
            await self._step("network", self._network)
            if self.state:  # the core runs even if some NF is missing: go on and show what works
                await self._step("provision", self._provision)
            else:
                self.steps["provision"].reason = "skipped: the core did not start"
            await self._step("ng_setup", self._ng_setup, needs=("provision",))
            await self._step("register", self._register, needs=("ng_setup",))
            await self._step("data_network", self._data_network, needs=("provision",))
            await self._step("pdu_session", self._pdu_session, needs=("register", "data_network"))
            await self._step("ping", self._ping, needs=("pdu_session",))
            if self.ipv6:
                await self._step("ping6", self._ping6, needs=("pdu_session",))
            await self._step("tcp", self._tcp, needs=("pdu_session",))
            await self._step("metrics", self._metrics, needs=("register",))
        finally:
            await self._step("teardown", self._teardown)
            await self.cleanup()
            if self.workdir is not None and not self.keep_data and all(s.passed for s in self.steps.values()):
                shutil.rmtree(self.workdir, ignore_errors=True)
        report = self.report()
        if report["workdir"]:  # kept for a failed run (or --keep-data): the report beside the logs
            with contextlib.suppress(OSError):
                (Path(report["workdir"]) / "report.json").write_text(json.dumps(report, indent=2))
        return report

    def report(self) -> dict[str, Any]:
        steps = [s.as_dict() for s in self.steps.values()]
        return {
            "ues": self.n,
            "registered": self.steps["register"].ok,
            "pdu_sessions": len(self.sessions),
            "ping_loss_percent": self.ping_loss,
            "ipv6": {"enabled": self.ipv6, "note": self.ipv6_note, "ping6_loss_percent": self.ping6_loss},
            "tcp_bytes": self.tcp_bytes,
            "tcp_mbit_s": round(self.tcp_mbit_s, 1) if self.tcp_mbit_s else None,
            "passed": all(s.passed for s in self.steps.values()),
            "workdir": str(self.workdir) if self.workdir and self.workdir.exists() else None,
            "steps": steps,
        }


# --- IPv6 or not --------------------------------------------------------------------------------------

#: TS 24.501 §9.11.4.11 PDU session types the demo asks for
PDU_IPV4, PDU_IPV4V6 = 1, 3
#: the IPv6 DNS server the demo's DNN gets when it has none (Google's, like the default 8.8.8.8)
DEMO_DNS6 = "2001:4860:4860::8888"


def _want_ipv6(wanted: bool | None) -> tuple[bool, str | None]:
    """(IPv6 on, why not or None). ``None`` means on when the kernel has per-device IPv6
    forwarding (fivecore.netup.dn); an explicit ``True`` stays on, and the data-network step
    then fails with the reason on such a kernel."""
    from fivecore.netup.dn import ipv6_forwarding_supported

    if wanted is False:
        return False, "off (demo.ipv6: false / --no-ipv6)"
    if wanted is None and not ipv6_forwarding_supported():
        return False, ("off: this kernel cannot forward IPv6 on chosen devices only "
                       "(net.ipv6.conf.<dev>.force_forwarding, Linux 6.17+)")
    return True, None


# --- running commands as a UE ------------------------------------------------------------------------


def _ue_ip(sess: Any) -> str | None:
    for attr in ("ipv4", "ue_ipv4", "address", "ip"):
        v = sess.get(attr) if isinstance(sess, dict) else getattr(sess, attr, None)
        if v:
            return str(v).split("/")[0]
    return None


def _sess_attr(sess: Any, *names: str) -> Any:
    for n in names:
        v = sess.get(n) if isinstance(sess, dict) else getattr(sess, n, None)
        if v:
            return v
    return None


def _ue_command(sess: Any, argv: list[str]) -> list[str]:
    """Run ``argv`` as the UE: inside its namespace when it has one."""
    ns = _sess_attr(sess, "netns", "namespace")
    return ["ip", "netns", "exec", str(ns), *argv] if ns else argv


def _bind_args(sess: Any) -> list[str]:
    """Without a namespace, bind ping to the UE's interface (or address)."""
    if _sess_attr(sess, "netns", "namespace"):
        return []
    ifname = _sess_attr(sess, "ifname", "tun", "interface", "tun_name")
    if ifname:
        return ["-I", str(getattr(ifname, "name", ifname))]
    ip = _ue_ip(sess)
    return ["-I", ip] if ip else []


def _scrape(base: str, name: str) -> float | None:
    """Sum of all series of ``name`` at ``base``/metrics."""
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=3) as r:  # noqa: S310 - our listener
            text = r.read().decode()
    except OSError:
        return None
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else None


# The data-network side of the TCP step: count and hash what arrives, print JSON.
_TCP_SINK = r"""
import hashlib, json, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print("ready", flush=True)
s.settimeout(60)
c, _ = s.accept(); c.settimeout(60)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(json.dumps({"bytes": n, "sha256": h.hexdigest()}), flush=True)
"""

# The UE side: send N pseudo-random bytes (SHAKE-256 of a seed) from the UE's address.
_TCP_SOURCE = r"""
import hashlib, json, socket, sys
host, port, n, seed, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), bytes.fromhex(sys.argv[4]), sys.argv[5]
s = socket.socket()
if src: s.bind((src, 0))
s.settimeout(10); s.connect((host, port)); s.settimeout(60)
h = hashlib.sha256(); sent = 0; chunk = 1 << 16; x = hashlib.shake_256(seed).digest(chunk)
while sent < n:
    b = x[: min(chunk, n - sent)]
    s.sendall(b); h.update(b); sent += len(b)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(json.dumps({"bytes": sent, "sha256": h.hexdigest()}), flush=True)
"""


def run_demo(config_path: Path | None, n_ues: int | None, *, quiet: bool = False,
             keep_data: bool = False, pcap: Path | None = None, ipv6: bool | None = None) -> dict[str, Any]:
    """Run the demo; returns the report (``passed`` says whether every step passed)."""
    import logging

    from rich.console import Console

    from fivecore.obs.logging import setup_logging

    setup_logging("warning")
    logging.getLogger("fivecore").setLevel(logging.ERROR)
    console = Console(stderr=True)
    progress = None if quiet else (lambda text: console.print(f"[dim]…[/dim] {text}"))
    demo = Demo(config_path, n_ues, quiet=quiet, keep_data=keep_data, progress=progress, pcap=pcap, ipv6=ipv6)

    async def main() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        try:
            return await demo.run()
        except asyncio.CancelledError:
            await demo.cleanup()
            raise FivecoreError("demo interrupted; everything it started was stopped") from None

    install_fast_loop()
    return asyncio.run(main())


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"fivecore demo — {report['ues']} UEs")
    for col in ("step", "count", "success", "p50 ms", "p99 ms", "time s", "result"):
        t.add_column(col, justify="right" if col not in ("step", "result") else "left")
    for s in report["steps"]:
        lat = s["latency_ms"]
        result = "[green]pass[/green]" if s["passed"] else f"[red]FAIL[/red] {s['reason'] or ''}"
        t.add_row(TITLES.get(s["name"], s["name"]), str(s["count"]), f"{s['ok']}/{s['count']}",
                  "-" if lat["p50"] is None else f"{lat['p50']:.1f}", "-" if lat["p99"] is None else f"{lat['p99']:.1f}",
                  f"{s['seconds']:.2f}", result)
    con = Console()
    con.print(t)
    loss = report["ping_loss_percent"]
    con.print(f"registered {report['registered']}/{report['ues']}, PDU sessions {report['pdu_sessions']}, "
              f"ping loss {'-' if loss is None else f'{loss:.1f}%'}, TCP {report['tcp_bytes']} bytes"
              + (f" at {report['tcp_mbit_s']} Mbit/s" if report.get("tcp_mbit_s") else ""))
    v6 = report.get("ipv6") or {}
    if v6.get("enabled"):
        loss6 = v6.get("ping6_loss_percent")
        con.print(f"IPv6: IPv4v6 sessions, ping -6 loss {'-' if loss6 is None else f'{loss6:.1f}%'}")
    elif v6.get("note"):
        con.print(f"IPv6: {v6['note']}")
    if report.get("workdir"):
        con.print(f"logs kept in {report['workdir']}")
    con.print("[bold green]PASSED[/bold green]" if report["passed"] else "[bold red]FAILED[/bold red]")

