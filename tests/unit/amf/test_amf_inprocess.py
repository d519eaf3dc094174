"""5GMM against the real AUSF, UDM and UDR service objects through the in-process SBI binding
(one process, no sockets; the ``fivecore up`` layout): 5G-AKA and EAP-AKA' registrations, the
AUSF links followed without leaving the process, UECM/SDM answers mapped to the allowed NSSAI."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from fivecore.config import load_config
from fivecore.nf.amf.clients import AmfSbi
from fivecore.nf.amf.context import GmmState, GnbContext
from fivecore.nf.amf.gmm import Gmm, GmmConfig, ReleaseUe, SbiCall, SendIcs, SendNas
from fivecore.nf.ausf import AusfApp
from fivecore.nf.common import LocalRegistry
from fivecore.nf.common.client import SbiClient
from fivecore.nf.nrf import NrfApp
from fivecore.nf.udm import UdmApp
from fivecore.nf.udr import UdrApp
from fivecore.ran.ue import Ue, UeProfile, UeState
from fivecore.ran.usim import Usim
from fivecore.security import suci
from fivecore.store import Subscriber

K = bytes(range(16))
OPC = bytes(range(16, 32))


@pytest.fixture()
async def chain(tmp_path):
    a_priv, a_pub = suci.generate_hn_keypair(1)
    cfg = load_config({"db_uri": f"sqlite:///{tmp_path / 's.db'}", "udr": {"mgmt": {"enabled": False}},
                       "home_network_keys": [{"id": 1, "scheme": "A", "private_key": a_priv.hex()}]})
    local = LocalRegistry()
    apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local), AusfApp(cfg, local=local)]
    for a in apps:
        await a.start(serve=False)
    sbi = AmfSbi(SbiClient("AMF", "amf-1", local=local), amf_instance_id="amf-1", mcc="001", mnc="01",
                 amf_id_hex="020040", callback_uri="http://127.0.0.5:7777")
    yield apps[1], sbi, a_pub
    for a in reversed(apps):
        await a.stop()


async def drive(gmm: Gmm, sbi: AmfSbi, ue: Ue, actions: list[Any]) -> None:
    pending: deque[list[Any]] = deque([actions])
    while pending:
        for a in pending.popleft():
            if isinstance(a, SbiCall):
                r = await sbi.execute(a.op, a.args)
                if a.op != "udm_deregister":
                    pending.append(gmm.sbi_result(a.ue, a.token, a.op, r))
            elif isinstance(a, SendNas | SendIcs):
                for up in ue.on_downlink(a.pdu):
                    pending.append(gmm.uplink_nas(a.ue, up))
            elif isinstance(a, ReleaseUe):
                gmm.ran_released(a.ue)
                ue.connected = False


@pytest.mark.parametrize("method", ["5G_AKA", "EAP_AKA_PRIME"])
async def test_registration_in_process(chain, method: str) -> None:
    udr, sbi, a_pub = chain
    udr.store.add(Subscriber("imsi-001010000000001", k=K, opc=OPC, auth_method=method, profile="default"))
    gmm = Gmm(GmmConfig())
    ue = Ue(Usim("001010000000001", K, opc=OPC, protection_scheme=1, hn_public_key=a_pub, hn_key_id=1), UeProfile())
    ue.stats = {}
    gnb = GnbContext(1)
    amf_ue, acts = gmm.initial_ue_message(gnb, 1, ue.register(), 1)
    await drive(gmm, sbi, ue, acts)
    assert ue.state == UeState.REGISTERED, (gmm.ctx.stats, ue.stats)
    assert amf_ue.state == GmmState.REGISTERED and amf_ue.supi == "imsi-001010000000001"
    assert amf_ue.allowed_nssai == ((1, None),)
    if method == "EAP_AKA_PRIME":
        assert ue.stats["eap_challenge_answered"] == 1
    # de-registration from idle; the UDM registration is purged
    amf_ue2, acts = gmm.initial_ue_message(gnb, 2, ue.deregister(), 1)
    await drive(gmm, sbi, ue, acts)
    assert amf_ue2 is amf_ue and amf_ue.state == GmmState.DEREGISTERED and ue.state == UeState.DEREGISTERED


async def test_unknown_subscriber_is_illegal_ue(chain) -> None:
    _, sbi, a_pub = chain
    gmm = Gmm(GmmConfig())
    ue = Ue(Usim("001019999999999", K, opc=OPC, protection_scheme=1, hn_public_key=a_pub, hn_key_id=1), UeProfile())
    _, acts = gmm.initial_ue_message(GnbContext(1), 1, ue.register(), 1)
    await drive(gmm, sbi, ue, acts)
    assert ue.state == UeState.DEREGISTERED and ue.last_cause == 3
