"""Metrics collectors and info providers for the NFs, read from their public state at scrape time.

The NF packages keep their own counters (the AMF's ``gmm.ctx.stats``, the UPF's ``UpfMetrics``,
the SMF's context); this module maps them to Open5GS's metric names and to the info API, so the
NFs' hot paths stay untouched. Every reader is duck-typed and tolerant: an NF that does not
(yet) have an attribute simply contributes fewer series.

``attach(nf_name, app, config)`` returns the :class:`MetricsRegistry` and :class:`InfoApi` for
one NF; ``fivecore up`` and ``fivecore nf`` serve them with :class:`MetricsServer`.
"""

from __future__ import annotations

import re
from typing import Any

from fivecore.config import Config
from fivecore.obs.info import InfoApi
from fivecore.obs.logging import mask_supi
from fivecore.obs.metrics import MetricsRegistry, MetricsServer

_SAFE = re.compile(r"[^a-zA-Z0-9_]")


def _stat_name(prefix: str, key: str) -> str:
    return f"{prefix}_{_SAFE.sub('_', key).lower()}_total"


def _plmn(config: Config) -> str:
    return config.plmn.mcc + config.plmn.mnc


# --- AMF ------------------------------------------------------------------------------------------


def amf_metrics(app: Any) -> dict[str, Any]:
    """Open5GS AMF names from the AMF's context (TS 28.552 §5.2 registration counters)."""
    ctx = app.gmm.ctx
    stats: dict[str, int] = dict(getattr(ctx, "stats", {}))
    ues = list(ctx.ues.values())
    registered = sum(1 for u in ues if getattr(u.state, "name", "") == "REGISTERED")
    relay = getattr(app, "sessions", None)  # fivecore.nf.amf.sessions.AmfSessions, once attached
    by_supi = getattr(relay, "by_supi", None) or {}
    sessions = sum(len(v) for v in by_supi.values())
    out: dict[str, Any] = {
        "gnb": sum(1 for g in ctx.gnbs.values() if getattr(g.state, "name", "") == "READY"),
        "ran_ue": sum(1 for u in ues if u.gnb is not None),
        "amf_session": sessions,
        "fivegs_amffunction_rm_registeredsubnbr": registered,
        # the AMF counts every Registration Request; per-type keys win when it provides them
        "fivegs_amffunction_rm_reginitreq": stats.get("registration_request_initial",
                                                      stats.get("registration_request", 0)),
        "fivegs_amffunction_rm_reginitsucc": stats.get("registered_initial", stats.get("registered", 0)),
        "fivegs_amffunction_rm_reginitfail": stats.get("registration_reject_initial",
                                                       stats.get("registration_reject", 0)),
        "fivegs_amffunction_amf_authreject": stats.get("auth_reject", 0),
        "fivegs_amffunction_amf_authfail": sum(v for k, v in stats.items() if k.startswith("auth_failure_")),
        "fivegs_amffunction_mm_paging5greq": stats.get("paging", 0),
    }
    for k, v in stats.items():
        out[_stat_name("fivecore_amf", k)] = v
    for k, v in (getattr(relay, "stats", None) or {}).items():
        out[_stat_name("fivecore_amf_sm", k)] = v
    return out


def gnb_info(app: Any) -> list[dict[str, Any]]:
    """``/gnb-info``: connected gNBs, their TAs, PLMN, SCTP peer and UE count."""
    out = []
    for g in app.gmm.ctx.gnbs.values():
        rid = g.global_ran_node_id
        out.append({
            "gnb_id": rid[1] if rid else None,
            "plmn": g.plmn,
            "name": g.name,
            "state": getattr(g.state, "name", str(g.state)),
            "sctp_peer": g.peer,
            "vendor": getattr(g.vendor, "name", g.vendor) if g.vendor is not None else None,
            "supported_tas": [{"tac": t[0], "plmns": t[1]} for t in (g.supported_tas or [])],
            "num_connected_ues": len(g.ues),
        })
    return out


def ue_info(app: Any, reveal_supi: bool = False) -> list[dict[str, Any]]:
    """``/ue-info``: UEs the AMF knows, with state, serving gNB, security and slices."""
    out = []
    for u in app.gmm.ctx.ues.values():
        supi = u.supi
        rid = u.gnb.global_ran_node_id if u.gnb is not None else None
        out.append({
            "supi": supi if reveal_supi or supi is None else mask_supi(supi),
            "amf_ue_ngap_id": u.amf_ue_ngap_id,
            "ran_ue_ngap_id": u.ran_ue_ngap_id,
            "gmm_state": getattr(u.state, "name", str(u.state)),
            "cm_state": "CONNECTED" if u.cm_connected else "IDLE",
            "gnb_id": rid[1] if rid else None,
            "tac": u.tac,
            "suci_scheme": u.suci_scheme,
            "security": {"nea": u.nr_enc_alg, "nia": u.nr_int_alg},
            "allowed_nssai": [{"sst": s[0], **({"sd": f"{s[1]:06x}"} if s[1] is not None else {})}
                              for s in (u.allowed_nssai or ())],
        })
    return out


# --- SMF ------------------------------------------------------------------------------------------


def _smf_sessions(app: Any) -> list[Any]:
    """The SMF's SM contexts (``SmfContext.by_ref``)."""
    ctx = getattr(app, "ctx", None)
    by_ref = getattr(ctx, "by_ref", None)
    return list(by_ref.values()) if isinstance(by_ref, dict) else []


def _sst(snssai: Any) -> str:
    if isinstance(snssai, dict):
        return str(snssai.get("sst", 1)) + (f"-{snssai['sd']}" if snssai.get("sd") else "")
    return "1"


def smf_metrics(app: Any, config: Config) -> dict[str, Any]:
    """Open5GS SMF names (TS 28.552 §5.3 session management) from the SMF's context."""
    sessions = _smf_sessions(app)
    ctx = getattr(app, "ctx", None)
    stats: dict[str, int] = dict(getattr(ctx, "stats", None) or {})
    n4_stats: dict[str, int] = dict(getattr(getattr(app, "n4", None), "stats", None) or {})
    active = [s for s in sessions if getattr(s.state, "name", "") in ("ACTIVE", "MODIFICATION_PENDING")]
    per_slice: dict[tuple[tuple[str, str], ...], int] = {}
    for s in active:
        key = (("plmnid", _plmn(config)), ("snssai", _sst(s.snssai)))
        per_slice[key] = per_slice.get(key, 0) + 1
    out: dict[str, Any] = {
        "fivegs_smffunction_sm_sessionnbr": per_slice or {(("plmnid", _plmn(config)), ("snssai", "1")): 0},
        "ues_active": len({s.supi for s in active}),
        "fivegs_smffunction_sm_pdusessioncreationreq": stats.get("create_requests", 0),
        "fivegs_smffunction_sm_pdusessioncreationsucc": stats.get("established", 0),
        "fivegs_smffunction_sm_pdusessioncreationfail": (stats.get("establish_n4_failed", 0)
                                                         + stats.get("establish_sbi_failed", 0)
                                                         + stats.get("reject_pool_exhausted", 0)),
        "fivegs_smffunction_sm_n4sessionestabreq": n4_stats.get("sessions_established", 0)
        + stats.get("establish_n4_failed", 0),
        "fivegs_smffunction_sm_n4sessionestabfail": stats.get("establish_n4_failed", 0),
        "fivegs_smffunction_sm_n4sessionreport": stats.get("usage_reports", 0),
    }
    for k, v in stats.items():
        out[_stat_name("fivecore_smf", k)] = v
    for k, v in n4_stats.items():
        out[_stat_name("fivecore_smf_n4", k)] = v
    return out


def pdu_info(app: Any, reveal_supi: bool = False) -> list[dict[str, Any]]:
    """``/pdu-info``: PDU sessions with SUPI, DNN, UE address, S-NSSAI, QoS."""
    out = []
    for s in _smf_sessions(app):
        supi = s.supi
        out.append({
            "supi": supi if reveal_supi or supi is None else mask_supi(str(supi)),
            "pdu_session_id": s.psi,
            "dnn": s.dnn,
            "ipv4": s.ue_ipv4,
            "ipv6_prefix": str(s.ue_ipv6_prefix) if s.ue_ipv6_prefix else None,
            "snssai": s.snssai,
            "state": getattr(s.state, "name", str(s.state)),
            "qfi": getattr(s, "qfi", None),
            "ambr": {"uplink": getattr(s, "ambr_ul", None), "downlink": getattr(s, "ambr_dl", None)},
            "upf": getattr(getattr(s, "upf", None), "address", None),
        })
    return out


# --- PCF ------------------------------------------------------------------------------------------


def pcf_metrics(app: Any) -> dict[str, Any]:
    """Open5GS PCF names (TS 28.552 §5.5 policy association) from the PCF's context."""
    ctx = getattr(app, "context", None)
    stats: dict[str, int] = dict(getattr(ctx, "stats", None) or {})
    sm = getattr(ctx, "sm", None) or {}
    # the PCF counts an association once it is created; rejected requests (400) are not
    # counted there, so "req" equals "succ" until it counts them
    out: dict[str, Any] = {
        "fivegs_pcffunction_pa_policyamassoreq": stats.get("am_policy_request", stats.get("am_policy_create", 0)),
        "fivegs_pcffunction_pa_policyamassosucc": stats.get("am_policy_create", 0),
        "fivegs_pcffunction_pa_policysmassoreq": stats.get("sm_policy_request", stats.get("sm_policy_create", 0)),
        "fivegs_pcffunction_pa_policysmassosucc": stats.get("sm_policy_create", 0),
        "fivegs_pcffunction_pa_sessionnbr": len(sm),
    }
    for k, v in stats.items():
        out[_stat_name("fivecore_pcf", k)] = v
    return out


# --- UPF ------------------------------------------------------------------------------------------


def upf_metrics(app: Any) -> dict[str, Any]:
    return dict(app.ctx.metrics.as_prometheus())


# --- wiring ---------------------------------------------------------------------------------------


def metrics_endpoint(nf: str, config: Config) -> tuple[str, int]:
    """Where ``nf``'s metrics listener goes: ``metrics.address`` or the NF's own address."""
    m = config.metrics
    if m.address:
        addr = m.address
    elif nf == "upf":
        addr = config.upf.pfcp_address
    else:
        addr = config.section(nf).sbi.address
    return addr, m.ports.get(nf, m.port)


def attach(nf: str, app: Any, config: Config) -> tuple[MetricsRegistry, InfoApi]:
    """Registry and info API for one NF with its collectors/providers registered."""
    reg = MetricsRegistry(nf)
    info = InfoApi()
    reveal = config.metrics.info_supi
    if nf == "amf":
        reg.add_collector(lambda: amf_metrics(app))
        info.register("gnb-info", lambda: gnb_info(app))
        info.register("ue-info", lambda: ue_info(app, reveal))
    elif nf == "smf":
        reg.add_collector(lambda: smf_metrics(app, config))
        info.register("pdu-info", lambda: pdu_info(app, reveal))
    elif nf == "pcf":
        reg.add_collector(lambda: pcf_metrics(app))
    elif nf == "upf":
        reg.add_collector(lambda: upf_metrics(app))
    elif nf == "nrf":  # fivecore.nf.nrf.metrics: heartbeats per NF type, instances, subscriptions
        from fivecore.nf.nrf.metrics import register_metrics

        register_metrics(reg, app)
    return reg, info


def server_for(nf: str, app: Any, config: Config) -> MetricsServer:
    reg, info = attach(nf, app, config)
    addr, port = metrics_endpoint(nf, config)
    return MetricsServer(reg, addr, port, info=info)


class MetricsSidecar:
    """Metrics for an NF run alone (``fivecore nf NAME``): started and stopped beside it.

    Unlike ``fivecore up`` (which refuses to start when a port is taken), a standalone NF keeps
    running without metrics if its metrics port is busy — several test NFs often share one
    address — and says so in the log.
    """

    def __init__(self, nf: str, app: Any, config: Config) -> None:
        self.server = server_for(nf, app, config)

    async def start(self) -> None:
        import logging

        from fivecore.errors import ConfigError

        try:
            await self.server.start()
        except ConfigError as exc:
            logging.getLogger("fivecore.obs.metrics").warning("event=metrics_disabled reason=%r", str(exc))
            self.server = None  # type: ignore[assignment]

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
