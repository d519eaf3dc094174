"""The NRF's Prometheus metrics, in the Open5GS naming style (``fivegs_<nf>function_<group>_<name>``).

Open5GS's NRF exposes no NFManagement counters and TS 28.552 defines none for heartbeats, so
the names follow the pattern of the other NFs' (TS 28.552 family ``nfm``, lower case, no
``_total`` suffix) and the labels Open5GS's style (``nftype``, ``nfstatus``):

* ``fivegs_nrffunction_nfm_heartbeatrcvd{nftype}`` — counter: NF heartbeats (NFUpdate with
  only ``nfStatus``/``load``, TS 29.510 §5.2.2.3.2) received, per NF type;
* ``fivegs_nrffunction_nfm_nfinstances{nftype,nfstatus}`` — gauge: NF instances the NRF holds;
* ``fivegs_nrffunction_nfm_subscriptions`` — gauge: NFStatusSubscribe subscriptions (§5.2.2.5);
* ``fivegs_nrffunction_nfm_notifsent{event}`` — counter: NFStatusNotify requests (§5.2.2.6).

Values are read from :class:`~fivecore.nf.nrf.context.NrfContext` at scrape time
(a collector, as for the other NFs in :mod:`fivecore.netup.observe`): nothing on the NRF's
request path changes.
"""

from __future__ import annotations

from typing import Any

from .context import NrfContext

HEARTBEATS = "fivegs_nrffunction_nfm_heartbeatrcvd"
INSTANCES = "fivegs_nrffunction_nfm_nfinstances"
SUBSCRIPTIONS = "fivegs_nrffunction_nfm_subscriptions"
NOTIFICATIONS = "fivegs_nrffunction_nfm_notifsent"

DESCRIPTIONS: dict[str, tuple[str, str]] = {
    HEARTBEATS: ("counter", "Number of NF heartbeats received by the NRF"),
    INSTANCES: ("gauge", "Number of NF instances registered in the NRF"),
    SUBSCRIPTIONS: ("gauge", "Number of NF status subscriptions in the NRF"),
    NOTIFICATIONS: ("counter", "Number of NF status notifications sent by the NRF"),
}


def nrf_metrics(ctx: NrfContext) -> dict[str, Any]:
    """A metrics collector's answer (:mod:`fivecore.obs.metrics`) for one NRF context."""
    instances: dict[tuple[tuple[str, str], ...], int] = {}
    for reg in ctx.nfs.values():
        key = (("nftype", str(reg.profile.get("nfType"))), ("nfstatus", str(reg.profile.get("nfStatus"))))
        instances[key] = instances.get(key, 0) + 1
    return {
        HEARTBEATS: {(("nftype", t),): n for t, n in ctx.heartbeats.items()},
        INSTANCES: instances,
        SUBSCRIPTIONS: len(ctx.subscriptions),
        NOTIFICATIONS: {(("event", e),): n for e, n in ctx.notified.items()},
    }


def register_metrics(registry: Any, app: Any) -> None:
    """Describe the NRF's metrics in ``registry`` (a MetricsRegistry) and collect them from
    ``app.context`` at every scrape (the context exists once the app built its router)."""
    for name, (kind, help_) in DESCRIPTIONS.items():
        registry.describe(name, kind, help_)
    registry.add_collector(lambda: nrf_metrics(app.context))
