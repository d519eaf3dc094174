"""The benchmark's split network (every NF its own process, HTTP/2 between them): its UPF
registers with the network's NRF (TS 23.501 §6.3.3.3), and NFDiscovery on the NRF's SBI
finds it by DNN only through its ``upfInfo`` (TS 29.510 §6.2.3.2.3.1).
Slot 6 of the fixed e2e slots; run under ``flock /tmp/fivecore-bench.lock``. Needs root."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fivecore.benchkit.network import NetPlan, SplitNetwork

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (TUN, SCTP)"),
]


def _discover(nrf: str, **params: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"target-nf-type": "UPF", "requester-nf-type": "SMF", **params})
    with urllib.request.urlopen(f"{nrf}/nnrf-disc/v1/nf-instances?{query}", timeout=5) as resp:  # noqa: S310
        return list(json.loads(resp.read())["nfInstances"])


def test_split_network_upf_is_registered_and_found_by_dnn(tmp_path: Path) -> None:
    plan = NetPlan.slot(6)
    net = SplitNetwork(plan, workdir=tmp_path)
    net.start()  # returns once every NF, the UPF included, is discoverable
    try:
        nrf = net.nfs["nrf"].uri
        (prof,) = _discover(nrf)
        assert prof["ipv4Addresses"] == [plan.address("upf")]
        dnns = {d["dnn"] for i in prof["upfInfo"]["sNssaiUpfInfoList"] for d in i["dnnUpfInfoList"]}
        assert dnns == {net.state["dnn"]}
        assert [p["nfInstanceId"] for p in _discover(nrf, dnn=net.state["dnn"])] == [prof["nfInstanceId"]]
        assert _discover(nrf, dnn="no-such-dnn") == []
        assert _discover(nrf, dnn=net.state["dnn"], snssais=json.dumps([{"sst": 99}])) == []
    finally:
        net.stop()
