"""Open5GS-named metrics and the info API read from real AMF/SMF contexts (no sockets)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from fivecore.config import load_config
from fivecore.netup.network import redacted
from fivecore.netup.observe import attach, metrics_endpoint


def _values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(family name, labels) -> value; the parser appends _total to counter samples, and a
    family of ours that ends in _total loses it, so key by the name as exposed."""
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            name = s.name
            if f.type == "counter":
                name = f"{f.name}_total" if f"\n{f.name}_total" in text else f.name
            out[(name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_amf_counters_gauges_and_info() -> None:
    from fivecore.nf.amf.app import AmfApp
    from fivecore.nf.amf.context import GmmState, GnbContext, GnbState

    cfg = load_config({})
    app = AmfApp(cfg)
    ctx = app.gmm.ctx
    g = GnbContext(1, "10.0.0.1:38412")
    g.state, g.global_ran_node_id, g.name = GnbState.READY, ("00101", 7, 22), "g7"
    ctx.gnbs[1] = g
    ctx.gnbs[2] = GnbContext(2, "10.0.0.2:38412")  # NG Setup not done: not counted
    for i in range(3):
        ue = ctx.new_ue(g, i)
        ue.supi = f"imsi-00101000000000{i}"
        ue.state = GmmState.REGISTERED if i < 2 else GmmState.DEREGISTERED
        ctx.count("registration_request")
    ctx.count("registered", 2)
    ctx.count("registration_reject")
    ctx.count("nas_replay")
    reg, info = attach("amf", app, cfg)
    v = _values(reg.expose())
    assert v[("gnb", ())] == 1
    assert v[("ran_ue", ())] == 3
    assert v[("fivegs_amffunction_rm_reginitreq", ())] == 3
    assert v[("fivegs_amffunction_rm_reginitsucc", ())] == 2
    assert v[("fivegs_amffunction_rm_reginitfail", ())] == 1
    assert v[("fivegs_amffunction_rm_registeredsubnbr", ())] == 2
    assert v[("fivecore_amf_nas_replay_total", ())] == 1
    ues = info.render("ue-info")["items"]
    assert [u["gmm_state"] for u in ues] == ["REGISTERED", "REGISTERED", "DEREGISTERED"]
    assert all("*" in u["supi"] and u["supi"].startswith("imsi-00101") for u in ues)
    gnbs = info.render("gnb-info")["items"]
    assert gnbs[0]["gnb_id"] == 7 and gnbs[0]["num_connected_ues"] == 3
    # full SUPIs only when the operator asks
    cfg2 = load_config({"metrics": {"info_supi": True}})
    _, info2 = attach("amf", app, cfg2)
    assert info2.render("ue-info")["items"][0]["supi"] == "imsi-001010000000000"


def test_smf_sessions_per_slice_and_pdu_info() -> None:
    from fivecore.nf.smf.app import SmfApp
    from fivecore.nf.smf.context import SmState

    cfg = load_config({})
    app = SmfApp(cfg)
    for i in range(4):
        sm = app.ctx.new(f"imsi-00101000000001{i}", 1, "internet", {"sst": 1} if i < 3 else {"sst": 2, "sd": "000001"})
        sm.state = SmState.ACTIVE if i != 1 else SmState.INACTIVE_PENDING
        sm.ue_ipv4 = f"10.45.0.{i + 2}"
    app.ctx.count("create_requests", 4)
    app.ctx.count("established", 3)
    reg, info = attach("smf", app, cfg)
    v = _values(reg.expose())
    assert v[("fivegs_smffunction_sm_sessionnbr", (("plmnid", "00101"), ("snssai", "1")))] == 2
    assert v[("fivegs_smffunction_sm_sessionnbr", (("plmnid", "00101"), ("snssai", "2-000001")))] == 1
    assert v[("fivegs_smffunction_sm_pdusessioncreationreq", ())] == 4
    assert v[("fivegs_smffunction_sm_pdusessioncreationsucc", ())] == 3
    assert v[("ues_active", ())] == 3
    items = info.render("pdu-info")["items"]
    assert {i["ipv4"] for i in items} == {"10.45.0.2", "10.45.0.3", "10.45.0.4", "10.45.0.5"}
    assert all(i["dnn"] == "internet" and "*" in i["supi"] for i in items)


def test_metrics_endpoints_follow_open5gs_layout() -> None:
    cfg = load_config({})
    assert metrics_endpoint("amf", cfg) == ("127.0.0.5", 9090)
    assert metrics_endpoint("smf", cfg) == ("127.0.0.4", 9090)
    assert metrics_endpoint("upf", cfg) == ("127.0.0.7", 9090)
    cfg = load_config({"metrics": {"address": "10.0.0.1", "ports": {"pcf": 9091}}})
    assert metrics_endpoint("pcf", cfg) == ("10.0.0.1", 9091)


def test_config_show_redaction() -> None:
    doc = redacted({"home_network_keys": [{"id": 1, "private_key": "ab" * 32, "private_key_file": None}],
                    "udr": {"mgmt": {"token": "t", "token_file": None}}, "demo": {"k": "00" * 16, "opc": "11" * 16}})
    assert doc["home_network_keys"][0]["private_key"] == "<redacted>"
    assert doc["home_network_keys"][0]["private_key_file"] is None
    assert doc["udr"]["mgmt"]["token"] == "<redacted>"
    assert doc["demo"] == {"k": "<redacted>", "opc": "<redacted>"}


def test_pcf_policy_associations() -> None:
    from fivecore.nf.pcf.app import PcfApp

    cfg = load_config({})
    app = PcfApp(cfg)
    ctx = app.context
    for i in range(3):
        ctx.sm[f"p{i}"] = {"context": {}, "policy": {}}
        ctx.count("sm_policy_create")
    ctx.sm.pop("p0")
    ctx.count("sm_policy_delete")
    ctx.count("am_policy_create")
    reg, _ = attach("pcf", app, cfg)
    v = _values(reg.expose())
    assert v[("fivegs_pcffunction_pa_policysmassosucc", ())] == 3
    assert v[("fivegs_pcffunction_pa_sessionnbr", ())] == 2
    assert v[("fivegs_pcffunction_pa_policyamassosucc", ())] == 1
    assert metrics_endpoint("pcf", cfg) == ("127.0.0.13", 9090)
