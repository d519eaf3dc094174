"""Prometheus exposition checked by prometheus_client's parser (which we did not write)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from fivecore.errors import ConfigError
from fivecore.obs.info import InfoApi
from fivecore.obs.metrics import KNOWN, MetricsRegistry, MetricsServer


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_open5gs_names_types_and_values() -> None:
    reg = MetricsRegistry("amf", process_metrics=False)
    reg.counter("fivegs_amffunction_rm_reginitreq").inc(3)
    reg.counter("fivegs_amffunction_rm_reginitsucc").inc(2)
    reg.gauge("amf_session").set(2)
    reg.gauge("gnb").set(1)
    text = reg.expose()
    assert "# TYPE fivegs_amffunction_rm_reginitreq counter" in text
    assert "fivegs_amffunction_rm_reginitreq 3\n" in text
    fams = _families(text)
    # prometheus_client strips a counter's _total; Open5GS's names carry none, so they stay whole
    assert fams["fivegs_amffunction_rm_reginitsucc"].type == "counter"
    assert fams["fivegs_amffunction_rm_reginitsucc"].samples[0].value == 2
    assert fams["amf_session"].type == "gauge"
    assert fams["gnb"].documentation == KNOWN["gnb"][1]


def test_collectors_labels_and_escaping() -> None:
    reg = MetricsRegistry("smf", const_labels={"nf": "smf"}, process_metrics=False)
    reg.add_collector(lambda: {
        "fivegs_smffunction_sm_sessionnbr": {(("plmnid", "00101"), ("snssai", "1")): 4},
        "fivecore_odd_total": 7,
    })
    reg.describe("fivecore_weird", "gauge", 'help with "quotes" and \\ and\nnewline')
    reg.add_collector(lambda: {"fivecore_weird": {(("v", 'a"b\\c\nd'),): 1.5}})
    fams = _families(reg.expose())
    s = fams["fivegs_smffunction_sm_sessionnbr"].samples[0]
    assert s.labels == {"nf": "smf", "plmnid": "00101", "snssai": "1"} and s.value == 4
    assert fams["fivecore_odd"].type == "counter"
    w = fams["fivecore_weird"].samples[0]
    assert w.labels["v"] == 'a"b\\c\nd' and w.value == 1.5


def test_broken_collector_does_not_break_scrape() -> None:
    reg = MetricsRegistry("x", process_metrics=False)
    reg.gauge("ran_ue").set(5)

    def boom() -> dict[str, int]:
        raise RuntimeError("bug")

    reg.add_collector(boom)
    assert _families(reg.expose())["ran_ue"].samples[0].value == 5


def test_process_metrics_present() -> None:
    fams = _families(MetricsRegistry("x").expose())
    assert fams["process_resident_memory_bytes"].samples[0].value > 0
    assert "process_cpu_seconds" in fams  # parser drops _total


def test_instrument_rules() -> None:
    reg = MetricsRegistry("x")
    c = reg.counter("fivegs_amffunction_amf_authreq")
    with pytest.raises(ValueError):
        c.inc(-1)
    with pytest.raises(ValueError):
        c.set(3)
    with pytest.raises(ValueError):
        reg.gauge("fivegs_amffunction_amf_authreq")
    g = reg.gauge("fivecore_x", labelnames=("dnn",))
    g.set(2, dnn="internet")
    with pytest.raises(ValueError):
        g.set(1)
    assert reg.value("fivecore_x", dnn="internet") == 2
    with pytest.raises(ValueError):
        reg.counter("bad name")


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True),
                       st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10**12, 10**12),
                       max_size=8),
       st.text(max_size=30))
def test_any_values_and_label_text_parse(values: dict[str, float], label: str) -> None:
    reg = MetricsRegistry("x", process_metrics=False)
    reg.add_collector(lambda: {k: {(("l", label),): v} for k, v in values.items()})
    fams = {s.name: s for f in text_string_to_metric_families(reg.expose()) for s in f.samples}
    for k, v in values.items():
        got = fams[k]
        assert got.labels["l"] == label
        assert got.value == pytest.approx(float(v), rel=1e-12, abs=0)


def test_server_routes_metrics_and_info() -> None:
    reg = MetricsRegistry("amf", process_metrics=False)
    reg.gauge("gnb").set(1)
    info = InfoApi()
    info.register("gnb-info", lambda: [{"gnb_id": i} for i in range(250)])
    srv = MetricsServer(reg, info=info)
    status, body, ctype = srv.respond("GET", "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4") and b"gnb 1" in body
    status, body, _ = srv.respond("GET", "/gnb-info?page=2&page_size=100")
    doc = json.loads(body)
    assert [i["gnb_id"] for i in doc["items"]] == list(range(200, 250))
    assert doc["pager"] == {"page": 2, "page_size": 100, "count": 50, "total": 250}
    assert len(json.loads(srv.respond("GET", "/gnb-info?page=-1")[1])["items"]) == 250
    assert len(json.loads(srv.respond("GET", "/gnb-info?page_size=1000")[1])["items"]) == 100
    assert srv.respond("GET", "/gnb-info?page=x")[0] == 400
    assert srv.respond("GET", "/ue-info")[0] == 404
    assert srv.respond("POST", "/metrics")[0] == 405
    assert srv.respond("GET", "/nope")[0] == 404


async def test_server_over_tcp_and_port_taken() -> None:
    import asyncio

    reg = MetricsRegistry("upf", process_metrics=False)
    reg.add_collector(lambda: {"fivegs_upffunction_upf_sessionnbr": 3})
    srv = MetricsServer(reg, "127.0.0.1", 0)
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = await r.read()
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert _families(body.decode())["fivegs_upffunction_upf_sessionnbr"].samples[0].value == 3
        # garbage request line: an answer, not a crash
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        w.write(b"\x00\xff garbage\r\n\r\n")
        assert (await r.read()).startswith(b"HTTP/1.1 400")
        w.close()
        other = MetricsServer(reg, "127.0.0.1", srv.port)
        with pytest.raises(ConfigError, match=r"metrics: cannot listen on 127.0.0.1:\d+"):
            await other.start()
    finally:
        await srv.stop()
