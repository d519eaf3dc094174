"""The ``amf:`` configuration section and what the AMF derives from it."""

from __future__ import annotations

import pytest

from fivecore.config import load_config
from fivecore.errors import ConfigError
from fivecore.nf.amf.app import gmm_config, ngap_config


def test_defaults_follow_the_single_host_layout() -> None:
    c = load_config(None)
    a = c.amf
    assert (a.ngap.address, a.ngap.port) == ("127.0.0.5", 38412)
    assert (a.sbi.address, a.sbi.port) == ("127.0.0.5", 7777)
    g = gmm_config(c)
    assert (g.mcc, g.mnc, g.tacs, g.slices) == ("001", "01", (1,), ((1, None),))
    assert 0 not in g.integrity_order, "NIA0 is never configured"
    assert 0 not in g.ciphering_order, "NEA0 only when asked for"
    n = ngap_config(c)
    assert n.plmn == "00101" and (n.region_id, n.set_id, n.pointer) == (2, 1, 0)


def test_priorities_and_slices() -> None:
    c = load_config({"amf": {"security": {"integrity_order": ["nia1", "NIA2"], "ciphering_order": ["NEA0", "NEA2"]},
                             "slices": [{"sst": 1}, {"sst": 2, "sd": "00000a"}], "tacs": [1, 7]}})
    g = gmm_config(c)
    assert g.integrity_order == (1, 2) and g.ciphering_order == (0, 2)
    assert g.slices == ((1, None), (2, 10)) and g.tacs == (1, 7)


@pytest.mark.parametrize(
    ("amf", "key"),
    [
        ({"security": {"integrity_order": ["NIA0"]}}, "amf.security.integrity_order"),
        ({"security": {"ciphering_order": ["NEA9"]}}, "amf.security.ciphering_order"),
        ({"security": {"integrity_order": []}}, "amf.security.integrity_order"),
        ({"tacs": []}, "amf.tacs"),
        ({"guami": {"set_id": 4096}}, "amf.guami.set_id"),
        ({"ngap": {"address": "not-an-ip"}}, "amf.ngap.address"),
        ({"ngap": {"rx_batch_ms": 51}}, "amf.ngap.rx_batch_ms"),
        ({"ngap": {"rx_batch_ms": -1}}, "amf.ngap.rx_batch_ms"),
        ({"slices": [{"sst": 1, "sd": "xyz"}]}, "amf.slices"),
        ({"bogus": 1}, "amf.bogus"),
    ],
)
def test_bad_values_name_the_key(amf: dict, key: str) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config({"amf": amf})
    assert str(ei.value).startswith(key)


def test_n2_receive_batching_reaches_the_sctp_endpoint() -> None:
    """amf.ngap.rx_batch_ms (milliseconds) becomes the N2 endpoint's SctpConfig.rx_batch (s)."""
    from fivecore.nf.amf.app import AmfApp

    assert AmfApp(load_config({})).sctp_config.rx_batch == 0.001  # on by default: 1 ms
    assert AmfApp(load_config({"amf": {"ngap": {"rx_batch_ms": 0}}})).sctp_config.rx_batch == 0
    assert AmfApp(load_config({"amf": {"ngap": {"rx_batch_ms": 3}}})).sctp_config.rx_batch == 0.003
