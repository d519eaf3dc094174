"""A simulated gNB with an NG connection to each AMF of an AMF Set: NAS node selection per UE
(TS 23.501 §6.3.5, TS 38.300 §9.2.1), the GUAMIs and capacities learnt from NG Setup Response
(TS 38.413 §9.2.6.2), one RAN UE NGAP ID space per gNB, and the ``gnb.amfs`` configuration.
No sockets: the endpoints are driven by plain calls (their association stays closed, so what
they send is counted as dropped, which is how the tests see which AMF a message went to).
"""

from __future__ import annotations

from collections import Counter

import pytest

from fivecore.cli.ran import amfs_from_state
from fivecore.errors import ConfigError, FivecoreError
from fivecore.ran.app import RanSim
from fivecore.ran.config import load_ran_config
from fivecore.ran.gnb import Gnb, choose_amf
from fivecore.ran.nas_io import Guti
from fivecore.wire import ngap
from fivecore.wire.ngap import NgapPdu

UE = {"supi": "imsi-001010000000001", "key": "465B5CE8B199B49FAA5F0A2EE238A6BC",
      "op": "E8ED289DEBA952E4283B54E88E6183CA", "opType": "OPC", "protectionScheme": 0}
REGION, SET = 2, 1


def _sim(n_amfs: int, n_ues: int = 8) -> RanSim:
    amfs = [{"address": f"127.0.{10 * m}.5", "port": 38412} for m in range(n_amfs)]
    sim = RanSim(load_ran_config({"gnb": {"amfs": amfs}, "ue": UE}), n_gnbs=1, n_ues=n_ues)
    for g in sim.gnbs:
        g.reconnect = False
    return sim


def _set_up(g: Gnb, pointer: int, capacity: int = 255, name: str | None = None) -> None:
    """What a successful NG Setup leaves behind: the AMF's answer, decoded from its octets."""
    rsp = NgapPdu.for_message("NGSetupResponse", {
        "AMFName": name or f"amf-{pointer}",
        "ServedGUAMIList": ngap.served_guami_list([("00101", REGION, SET, pointer)]),
        "RelativeAMFCapacity": capacity,
        "PLMNSupportList": ngap.plmn_support_list([("00101", [(1, None)])]),
    })
    pdu = ngap.decode(ngap.encode(rsp))
    g.amf_name = pdu.get("AMFName")
    g._learn_amf(pdu)
    g.ready = True


def _guti(pointer: int, tmsi: int = 0x1234, set_id: int = SET) -> Guti:
    return Guti.guti("00101", REGION, set_id, pointer, tmsi)


def test_config_amfs_list_and_single_amf_default() -> None:
    one = load_ran_config({"ue": UE})
    assert one.gnb.amf_list() == (("127.0.0.5", 38412),)
    two = load_ran_config({"gnb": {"amfs": [{"address": "127.0.0.5"}, {"address": "127.0.10.5", "port": 38413}]},
                           "ue": UE})
    assert two.gnb.amf_list() == (("127.0.0.5", 38412), ("127.0.10.5", 38413))
    for bad in ({"amfs": []}, {"amfs": [{"port": 1}]}, {"amfs": [{"address": "a", "port": "x"}]},
                {"amfs": [{"address": "a", "port": 0}]}, {"amfs": [{"address": "a"}, {"address": "a"}]},
                {"amfs": [{"address": "a", "prot": 1}]}, {"amfs": [{"address": "a"}], "amfAddress": "b"}):
        with pytest.raises(ConfigError, match="gnb.amfs"):
            load_ran_config({"gnb": bad, "ue": UE})


def test_one_gnb_per_node_endpoints_share_identity() -> None:
    sim = _sim(2)
    assert len(sim.nodes) == 1 and len(sim.gnbs) == 2
    a, b = sim.gnbs
    assert (a.cfg.gnb_id, a.cfg.nci, a.cfg.name) == (b.cfg.gnb_id, b.cfg.nci, b.cfg.name)
    assert a.ng_setup_request() == b.ng_setup_request()  # the same Global RAN Node ID to both AMFs
    assert [(g.cfg.amf_host, g.cfg.amf_port) for g in sim.gnbs] == [("127.0.0.5", 38412), ("127.0.10.5", 38412)]
    assert sim.summary()["gnbs"] == 1
    # one AMF: one endpoint per gNB, as before
    single = RanSim(load_ran_config({"ue": UE}), n_gnbs=3, n_ues=3)
    assert len(single.gnbs) == 3 and [g.node.links for g in single.gnbs] == [[g] for g in single.gnbs]


def test_ng_setup_response_is_learnt() -> None:
    sim = _sim(2)
    _set_up(sim.gnbs[1], pointer=1, capacity=77)
    g = sim.gnbs[1]
    assert g.amf_served_guamis == (("00101", REGION, SET, 1),)
    assert g.amf_relative_capacity == 77
    assert g.amf_plmn_support == (("00101", ((1, None),)),)


def test_guti_goes_to_the_amf_of_its_guami() -> None:
    sim = _sim(3)
    for p, g in enumerate(sim.gnbs):
        _set_up(g, p)
    credit: dict[int, int] = {}
    for p in (2, 0, 1, 1, 2):
        assert choose_amf(sim.gnbs, _guti(p), credit) is sim.gnbs[p]
    # through the simulator: a registration with a GUTI of pointer 1 opens its connection there
    ru = sim.ues[0]
    ru.ue.guti = _guti(1)
    sim.serving(ru).register(ru)
    assert ru.gnb is sim.gnbs[1] and ru.ran_id in sim.gnbs[1].connected
    assert [g.stats.ngap_tx_dropped for g in sim.gnbs] == [0, 1, 0]
    # while connected, everything of that UE stays on that association
    assert sim.serving(ru) is sim.gnbs[1]
    ru.ue.guti = _guti(2)
    assert sim.serving(ru) is sim.gnbs[1]


def test_suci_ues_spread_by_relative_capacity() -> None:
    sim = _sim(3)
    for p, (g, cap) in enumerate(zip(sim.gnbs, (30, 10, 0), strict=True)):
        _set_up(g, p, capacity=cap)
    credit: dict[int, int] = {}
    picks = Counter(choose_amf(sim.gnbs, None, credit).cfg.amf_host for _ in range(400))
    # capacity 0: no new UEs while others have room; 3:1 between the others, exactly
    assert picks == Counter({"127.0.0.5": 300, "127.0.10.5": 100})
    # equal capacities alternate (round-robin)
    eq = _sim(2)
    for p, g in enumerate(eq.gnbs):
        _set_up(g, p)
    credit = {}
    assert [eq.gnbs.index(choose_amf(eq.gnbs, None, credit)) for _ in range(6)] == [0, 1, 0, 1, 0, 1]


def test_registrations_with_suci_spread_over_the_amfs() -> None:
    sim = _sim(2, n_ues=8)
    for p, g in enumerate(sim.gnbs):
        _set_up(g, p)
    for ru in sim.ues:
        assert sim.serving(ru, peek=True) is sim.serving(ru, peek=True)  # looking does not move on
        sim.serving(ru).register(ru)
    assert [len(g.connected) for g in sim.gnbs] == [4, 4]
    # RAN UE NGAP IDs are unique in the gNB, not per association (TS 38.413 §9.3.3.2)
    ids = [ru.ran_id for ru in sim.ues]
    assert len(set(ids)) == 8
    view = sim.gnb_view(sim.nodes[0])
    assert [(c["address"], c["amf"], c["ready"], c["ues"]) for c in view["amfs"]] == [
        ("127.0.0.5:38412", "amf-0", True, 4), ("127.0.10.5:38412", "amf-1", True, 4)]
    assert view["connected_ues"] == 8 and view["ready"] is True and view["amf"] == "amf-0, amf-1"


def test_an_amf_whose_association_is_down_is_skipped() -> None:
    sim = _sim(3)
    for p, g in enumerate(sim.gnbs):
        _set_up(g, p)
    sim.gnbs[1].ready = False  # N2 to pointer 1 lost
    credit: dict[int, int] = {}
    assert {choose_amf(sim.gnbs, None, credit).cfg.amf_host for _ in range(10)} == {"127.0.0.5", "127.0.20.5"}
    # a GUTI of the lost AMF goes to another AMF of the same AMF Set (TS 23.501 §5.21.2.1) ...
    assert choose_amf(sim.gnbs, _guti(1), credit) in (sim.gnbs[0], sim.gnbs[2])
    # ... and a GUTI of a set none of them serves, to any AMF that is up
    assert choose_amf(sim.gnbs, _guti(1, set_id=9), credit) in (sim.gnbs[0], sim.gnbs[2])
    # an overloaded AMF is avoided while another one has room
    sim.gnbs[0].overloaded = True
    assert {choose_amf(sim.gnbs, None, credit) for _ in range(4)} == {sim.gnbs[2]}
    # nothing up: the UE's own AMF (the caller holds or counts the drop, as with one AMF)
    for g in sim.gnbs:
        g.ready = False
    assert choose_amf(sim.gnbs, _guti(2), credit) is sim.gnbs[2]
    assert choose_amf(sim.gnbs, None, credit) is sim.gnbs[0]
    assert sim.nodes[0].ready is False


def test_amf_list_from_the_up_state_file() -> None:
    state = {"amf_set": [{"member": 1, "ngap": "127.0.10.5:38412"}, {"member": 0, "ngap": "127.0.0.5:38412"}]}
    assert amfs_from_state(state) == (("127.0.0.5", 38412), ("127.0.10.5", 38412))
    with pytest.raises(FivecoreError):
        amfs_from_state({"amf_set": []})
    with pytest.raises(FivecoreError):
        amfs_from_state({"amf_set": [{"member": 0, "ngap": "nowhere"}]})
