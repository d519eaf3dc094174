"""Prometheus metrics for every NF, named as Open5GS names them so its Grafana dashboards work.

Each NF owns one :class:`MetricsRegistry`. Values come from two places:

* instruments the NF updates itself (``reg.counter(...).inc()``, ``reg.gauge(...).set(n)``);
* collectors, callables run at scrape time that read the NF's own state and return
  ``{metric name: value}`` (or ``{name: {(("label", "v"),): value}}`` for labelled series) —
  the cheap way for an NF that already keeps counters (the AMF's ``ctx.stats``, the UPF's
  ``UpfMetrics.as_prometheus()``) to expose them without touching its hot path.

Names known to Open5GS (TS 28.552 measurement names, lower-cased and flattened the way Open5GS
does) get their Open5GS type and help text from :data:`KNOWN`; anything else defaults to a
gauge unless it ends in ``_total``.

The exposition is the Prometheus text format 0.0.4
(https://prometheus.io/docs/instrumenting/exposition_formats/); the unit tests parse it with
``prometheus_client``'s parser, which we did not write. :class:`MetricsServer` serves it on
``GET /metrics`` together with the JSON info API of :mod:`fivecore.obs.info`
(``/gnb-info``, ``/ue-info``, ``/pdu-info``) on one small HTTP/1.1 listener per NF — Open5GS's
layout: every NF on its own address, port 9090 (AMF ``127.0.0.5:9090``, SMF ``127.0.0.4:9090``,
UPF ``127.0.0.7:9090``, ...), so one Prometheus scrape config fits both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import resource
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fivecore.errors import ConfigError

log = logging.getLogger("fivecore.obs.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Open5GS metric names (and a few of ours) -> (type, help). Open5GS's counters carry no
#: ``_total`` suffix; we keep its names exactly so existing dashboards and alerts match.
KNOWN: dict[str, tuple[str, str]] = {
    # AMF
    "gnb": ("gauge", "gNodeBs"),
    "ran_ue": ("gauge", "RAN UEs"),
    "amf_session": ("gauge", "AMF Sessions"),
    "fivegs_amffunction_rm_registeredsubnbr": ("gauge", "Number of registered state subscribers per AMF"),
    "fivegs_amffunction_rm_reginitreq": ("counter", "Number of initial registration requests received by the AMF"),
    "fivegs_amffunction_rm_reginitsucc": ("counter", "Number of successful initial registrations at the AMF"),
    "fivegs_amffunction_rm_reginitfail": ("counter", "Number of failed initial registrations at the AMF"),
    "fivegs_amffunction_rm_regmobreq": ("counter", "Number of mobility registration update requests received by the AMF"),
    "fivegs_amffunction_rm_regmobsucc": ("counter", "Number of successful mobility registration updates at the AMF"),
    "fivegs_amffunction_rm_regperiodreq": ("counter", "Number of periodic registration update requests received by the AMF"),
    "fivegs_amffunction_rm_regperiodsucc": ("counter", "Number of successful periodic registration update requests at the AMF"),
    "fivegs_amffunction_amf_authreq": ("counter", "Number of authentication requests sent by the AMF"),
    "fivegs_amffunction_amf_authreject": ("counter", "Number of authentication rejections sent by the AMF"),
    "fivegs_amffunction_amf_authfail": ("counter", "Number of authentication failure messages received by the AMF"),
    "fivegs_amffunction_mm_paging5greq": ("counter", "Number of 5G paging procedures initiated at the AMF"),
    "fivegs_amffunction_mm_confupdate": ("counter", "Number of UE Configuration Update commands requested by the AMF"),
    "fivegs_amffunction_mm_confupdatesucc": ("counter", "Number of UE Configuration Update complete messages received by the AMF"),
    # SMF
    "fivegs_smffunction_sm_sessionnbr": ("gauge", "Active Sessions"),
    "fivegs_smffunction_sm_pdusessioncreationreq": ("counter", "Number of PDU sessions requested to be created by the SMF"),
    "fivegs_smffunction_sm_pdusessioncreationsucc": ("counter", "Number of PDU sessions successfully created by the SMF"),
    "fivegs_smffunction_sm_pdusessioncreationfail": ("counter", "Number of PDU sessions failed to be created by the SMF"),
    "fivegs_smffunction_sm_n4sessionestabreq": ("counter", "Number of requested N4 session establishments evidented by SMF"),
    "fivegs_smffunction_sm_n4sessionestabfail": ("counter", "Number of failed N4 session establishments evidented by SMF"),
    "fivegs_smffunction_sm_n4sessionreport": ("counter", "Number of requested N4 session reports evidented by SMF"),
    "fivegs_smffunction_sm_n4sessionreportsucc": ("counter", "Number of successful N4 session reports evidented by SMF"),
    "fivegs_smffunction_sm_qos_flow_nbr": ("gauge", "Number of QoS flows at the SMF"),
    "ues_active": ("gauge", "Active User Equipments"),
    "bearers_active": ("gauge", "Active Bearers"),
    "pfcp_peers_active": ("gauge", "Active PFCP peers"),
    # UPF
    "fivegs_upffunction_upf_sessionnbr": ("gauge", "Active Sessions"),
    "fivegs_upffunction_upf_qosflows": ("gauge", "Number of QoS flows of UPF"),
    "fivegs_upffunction_sm_n4sessionestabreq": ("counter", "Number of requested N4 session establishments"),
    "fivegs_upffunction_sm_n4sessionestabfail": ("counter", "Number of failed N4 session establishments"),
    "fivegs_upffunction_sm_n4sessionreport": ("counter", "Number of requested N4 session reports"),
    "fivegs_upffunction_sm_n4sessionreportsucc": ("counter", "Number of successful N4 session reports"),
    "fivegs_ep_n3_gtp_indatapktn3upf": ("counter", "Number of incoming GTP data packets on the N3 interface"),
    "fivegs_ep_n3_gtp_outdatapktn3upf": ("counter", "Number of outgoing GTP data packets on the N3 interface"),
    "fivegs_ep_n3_gtp_indatavolumen3upf": ("counter", "Data volume of incoming GTP data packets on the N3 interface"),
    "fivegs_ep_n3_gtp_outdatavolumen3upf": ("counter", "Data volume of outgoing GTP data packets on the N3 interface"),
    # PCF
    "fivegs_pcffunction_pa_policyamassoreq": ("counter", "Number of AM policy association requests"),
    "fivegs_pcffunction_pa_policyamassosucc": ("counter", "Number of successful AM policy associations"),
    "fivegs_pcffunction_pa_policysmassoreq": ("counter", "Number of SM policy association requests"),
    "fivegs_pcffunction_pa_policysmassosucc": ("counter", "Number of successful SM policy associations"),
    "fivegs_pcffunction_pa_sessionnbr": ("gauge", "Active Sessions"),
}

Labels = tuple[tuple[str, str], ...]
#: What a collector returns: name -> value, or name -> {labels: value}.
CollectorResult = Mapping[str, float | int | Mapping[Labels, float | int]]
Collector = Callable[[], CollectorResult]


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_value(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _fmt_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in labels) + "}"


def _check_name(name: str) -> None:
    ok = name and (name[0].isalpha() or name[0] in "_:") and all(c.isalnum() or c in "_:" for c in name)
    if not ok:
        raise ValueError(f"invalid metric name {name!r}")


class Metric:
    """One metric family: a counter or a gauge with optional labels."""

    def __init__(self, name: str, kind: str, help: str, labelnames: tuple[str, ...] = ()) -> None:
        _check_name(name)
        if kind not in ("counter", "gauge"):
            raise ValueError(f"unsupported metric type {kind!r}")
        self.name = name
        self.kind = kind
        self.help = help
        self.labelnames = labelnames
        self._values: dict[Labels, float] = {} if labelnames else {(): 0}

    def _key(self, labels: Mapping[str, Any]) -> Labels:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: labels {sorted(labels)} != {list(self.labelnames)}")
        return tuple((k, str(labels[k])) for k in self.labelnames)

    def inc(self, amount: float = 1, **labels: Any) -> None:
        if self.kind == "counter" and amount < 0:
            raise ValueError(f"{self.name}: a counter only goes up")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0) + amount

    def dec(self, amount: float = 1, **labels: Any) -> None:
        if self.kind != "gauge":
            raise ValueError(f"{self.name}: only a gauge goes down")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0) - amount

    def set(self, value: float, **labels: Any) -> None:
        if self.kind != "gauge":
            raise ValueError(f"{self.name}: only a gauge is set")
        self._values[self._key(labels)] = value

    def value(self, **labels: Any) -> float:
        return self._values.get(self._key(labels), 0)

    def samples(self) -> list[tuple[Labels, float]]:
        return list(self._values.items())


class MetricsRegistry:
    """The metrics of one NF (see module docstring). ``const_labels`` go on every sample."""

    def __init__(self, nf: str | None = None, *, const_labels: Mapping[str, str] | None = None,
                 process_metrics: bool = True) -> None:
        self.nf = nf
        self.const_labels: Labels = tuple(sorted((const_labels or {}).items()))
        self.process_metrics = process_metrics
        self._metrics: dict[str, Metric] = {}
        self._collectors: list[Collector] = []
        self._meta: dict[str, tuple[str, str]] = {}

    def _get(self, name: str, kind: str, help: str | None, labelnames: tuple[str, ...]) -> Metric:
        m = self._metrics.get(name)
        if m is not None:
            if m.kind != kind or m.labelnames != labelnames:
                raise ValueError(f"{name} already registered as a {m.kind} with labels {m.labelnames}")
            return m
        known = KNOWN.get(name)
        m = Metric(name, kind, help or (known[1] if known else name), labelnames)
        self._metrics[name] = m
        return m

    def counter(self, name: str, help: str | None = None, labelnames: tuple[str, ...] = ()) -> Metric:
        return self._get(name, "counter", help, labelnames)

    def gauge(self, name: str, help: str | None = None, labelnames: tuple[str, ...] = ()) -> Metric:
        return self._get(name, "gauge", help, labelnames)

    def describe(self, name: str, kind: str, help: str) -> None:
        """Type and help for a name a collector returns (when :data:`KNOWN` lacks it)."""
        self._meta[name] = (kind, help)

    def add_collector(self, fn: Collector) -> None:
        self._collectors.append(fn)

    def remove_collector(self, fn: Collector) -> None:
        with contextlib.suppress(ValueError):
            self._collectors.remove(fn)

    def _meta_for(self, name: str) -> tuple[str, str]:
        if name in self._meta:
            return self._meta[name]
        if name in KNOWN:
            return KNOWN[name]
        return ("counter" if name.endswith("_total") else "gauge", name)

    def collect(self) -> dict[str, tuple[str, str, list[tuple[Labels, float]]]]:
        """name -> (type, help, [(labels, value)]), instruments and collectors merged."""
        out: dict[str, tuple[str, str, list[tuple[Labels, float]]]] = {}
        for m in self._metrics.values():
            out[m.name] = (m.kind, m.help, m.samples())
        for fn in list(self._collectors):
            try:
                result = fn()
            except Exception:  # a broken collector must not take /metrics down with it
                log.exception("event=metrics_collector_failed nf=%s", self.nf)
                continue
            for name, val in result.items():
                _check_name(name)
                kind, help_ = self._meta_for(name)
                samples = out.setdefault(name, (kind, help_, []))[2]
                if isinstance(val, Mapping):
                    samples.extend((tuple(k), float(v) if isinstance(v, float) else v) for k, v in val.items())
                else:
                    samples.append(((), val))
        if self.process_metrics:
            for name, (kind, help_, v) in _process_metrics().items():
                out.setdefault(name, (kind, help_, [((), v)]))
        return out

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one series (for tests and ``fivecore status``)."""
        fam = self.collect().get(name)
        if fam is None:
            return None
        want = tuple(sorted(labels.items()))
        for lab, v in fam[2]:
            if tuple(sorted(lab)) == want:
                return v
        return None

    def expose(self) -> str:
        """The Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        for name, (kind, help_, samples) in sorted(self.collect().items()):
            lines.append(f"# HELP {name} {_escape_help(help_)}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, v in samples:
                lines.append(f"{name}{_fmt_labels(self.const_labels + tuple(labels))} {_fmt_value(v)}")
        return "\n".join(lines) + "\n"


_START_TIME = time.time()


def _process_metrics() -> dict[str, tuple[str, str, float]]:
    """The standard process_* metrics every Prometheus client exposes (Linux /proc)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, tuple[str, str, float]] = {
        "process_cpu_seconds_total": ("counter", "Total user and system CPU time spent in seconds.",
                                      ru.ru_utime + ru.ru_stime),
        "process_start_time_seconds": ("gauge", "Start time of the process since unix epoch in seconds.",
                                       _START_TIME),
    }
    try:
        with open("/proc/self/statm") as f:
            pages = f.read().split()
        page = os.sysconf("SC_PAGE_SIZE")
        out["process_virtual_memory_bytes"] = ("gauge", "Virtual memory size in bytes.", int(pages[0]) * page)
        out["process_resident_memory_bytes"] = ("gauge", "Resident memory size in bytes.", int(pages[1]) * page)
        out["process_open_fds"] = ("gauge", "Number of open file descriptors.", len(os.listdir("/proc/self/fd")))
    except (OSError, ValueError, IndexError):
        pass
    return out


# --- the HTTP listener ---------------------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}
_MAX_HEAD = 8192


class MetricsServer:
    """``GET /metrics`` and the JSON info API on one address (HTTP/1.1, one request per connection).

    ``info`` is an :class:`fivecore.obs.info.InfoApi` (or anything with ``paths()`` and
    ``render(path, query)``). Requests are small and rare (a scrape every few seconds), so a
    hand-written reader is enough and keeps the NF free of another web framework.
    """

    def __init__(self, registry: MetricsRegistry, address: str = "127.0.0.1", port: int = 9090,
                 info: Any = None) -> None:
        self.registry = registry
        self.address = address
        self.port = port
        self.info = info
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.address, self.port,
                                                      reuse_address=True)
        except OSError as exc:
            raise ConfigError(f"metrics: cannot listen on {self.address}:{self.port}: "
                              f"{exc.strerror or exc}") from None
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]
        log.info("event=metrics_listening nf=%s url=%s/metrics", self.registry.nf, self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            if len(head) > _MAX_HEAD:
                await self._send(writer, 400, b"request too large\n", "text/plain")
                return
            parts = head.split(b"\r\n", 1)[0].split()
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                await self._send(writer, 400, b"bad request line\n", "text/plain")
                return
            method, target = parts[0].decode("latin-1"), parts[1].decode("latin-1")
            status, body, ctype = self.respond(method, target)
            await self._send(writer, status, body, ctype, head_only=method == "HEAD")
        except Exception:  # the listener outlives any one bad client
            log.exception("event=metrics_request_failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def respond(self, method: str, target: str) -> tuple[int, bytes, str]:
        """Route one request: (status, body, content type). Plain function, tested directly."""
        if method not in ("GET", "HEAD"):
            return 405, b"only GET\n", "text/plain"
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        if path == "/metrics":
            return 200, self.registry.expose().encode(), CONTENT_TYPE
        if self.info is not None and path.lstrip("/") in self.info.paths():
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                doc = self.info.render(path.lstrip("/"), query)
            except ValueError as exc:
                return 400, json.dumps({"error": str(exc)}).encode(), "application/json"
            return 200, json.dumps(doc, default=str).encode(), "application/json"
        if path == "/":
            links = ["/metrics"] + [f"/{p}" for p in (self.info.paths() if self.info is not None else [])]
            return 200, ("\n".join(links) + "\n").encode(), "text/plain"
        return 404, b"not found\n", "text/plain"

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, status: int, body: bytes, ctype: str,
                    head_only: bool = False) -> None:
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        writer.write(head.encode() + (b"" if head_only else body))
        with contextlib.suppress(ConnectionError):
            await writer.drain()

