"""What ``fivecore up`` hands its UPF for the NRF registration (fivecore.netup.network)."""

from __future__ import annotations

from fivecore.config import load_config
from fivecore.netup.network import dump_config, upf_nrf_settings
from fivecore.nf.upf.config import load_upf_config
from fivecore.nf.upf.nrf import upf_profile


def test_up_passes_its_nrf_and_the_smfs_dnns() -> None:
    cfg = load_config({
        "nrf": {"sbi": {"address": "127.0.9.10", "port": 7777}},
        "smf": {"dnns": [{"dnn": "internet", "ipv4_pool": "10.45.0.0/16", "slices": [{"sst": 1}]},
                         {"dnn": "ims", "ipv4_pool": "10.46.0.0/16", "slices": [{"sst": 1}, {"sst": 2, "sd": "0000AA"}]}]},
    })
    upd = upf_nrf_settings(cfg, runs_nrf=True)
    assert upd["nrf_uri"] == "http://127.0.9.10:7777"
    assert [(s.sst, s.sd, s.dnns) for s in upd["slices"]] == [(1, None, ["internet", "ims"]), (2, "0000aa", ["ims"])]
    # the file the UPF process reads: the whole config with the UPF section updated
    doc = dump_config(cfg.model_copy(update={"upf": cfg.upf.model_copy(update=upd)}))
    upf = load_upf_config(data=doc)
    assert upf.nrf_uri == "http://127.0.9.10:7777"
    prof = upf_profile(upf)
    assert [(i["sNssai"], [d["dnn"] for d in i["dnnUpfInfoList"]]) for i in prof["upfInfo"]["sNssaiUpfInfoList"]] == [
        ({"sst": 1}, ["internet", "ims"]), ({"sst": 2, "sd": "0000aa"}, ["ims"])]


def test_what_the_file_sets_wins() -> None:
    cfg = load_config({"upf": {"nrf_uri": None, "slices": [{"sst": 3, "dnns": ["x"]}]}})
    assert upf_nrf_settings(cfg, runs_nrf=True) == {}
    cfg = load_config({"upf": {"nrf_uri": "http://192.0.2.1:7777"}})
    assert "nrf_uri" not in upf_nrf_settings(cfg, runs_nrf=True)


def test_no_nrf_in_up_leaves_the_uri_alone() -> None:
    assert "nrf_uri" not in upf_nrf_settings(load_config({}), runs_nrf=False)
