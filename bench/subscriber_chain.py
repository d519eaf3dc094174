"""CPU per attach of the subscriber chain (issue 9): AUSF, UDM, UDR, PCF and the store, in one
process with the in-process SBI binding, exactly as ``fivecore up`` runs them.

Each "attach" makes the SBI calls the AMF and the SMF make for one registration with 5G-AKA
plus one PDU session, in the same order and with the same bodies:

    AUSF POST ue-authentications (Profile A SUCI)  -> UDM generate-auth-data -> UDR GET + PATCH
    AUSF PUT 5g-aka-confirmation (RES* from a USIM) -> (task) UDM auth-events -> UDR PUT
    UDM PUT uecm amf-3gpp-access  +  UDM GET sdm am-data            (concurrently, as the AMF)
    UDM GET sdm sm-data, UDM PUT uecm smf-registrations/1, PCF POST sm-policies (as the SMF)

The UE-side work (SUCI concealment, RES*) is done before the clock runs or subtracted, so the
number is the chain's own CPU. Compare two trees with ``PYTHONPATH``:

    PYTHONPATH=/tmp/base/src .venv/bin/python bench/subscriber_chain.py --rounds 5
    PYTHONPATH=src           .venv/bin/python bench/subscriber_chain.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

SNN = "5G:mnc001.mcc001.3gppnetwork.org"
PLMN = {"mcc": "001", "mnc": "01"}


async def _run(work: Path, ues: int, rounds: int) -> dict:
    from fivecore.config import load_config
    from fivecore.nf.ausf import AusfApp
    from fivecore.nf.common import LocalRegistry
    from fivecore.nf.nrf import NrfApp
    from fivecore.nf.pcf.app import PcfApp
    from fivecore.nf.udm import UdmApp
    from fivecore.nf.udr import UdrApp
    from fivecore.security import kdf, milenage, suci
    from fivecore.store import Subscriber

    priv, pub = suci.generate_hn_keypair(1)
    cfg = load_config({"db_uri": f"sqlite:///{work / 'chain.db'}", "udr": {"mgmt": {"enabled": False}},
                       "logging": {"level": "warning"},
                       "home_network_keys": [{"id": 1, "scheme": "A", "private_key": priv.hex()}]})
    local = LocalRegistry()
    apps = [NrfApp(cfg, local=local), UdrApp(cfg, local=local), UdmApp(cfg, local=local),
            AusfApp(cfg, local=local), PcfApp(cfg, local=local)]
    for a in apps:
        await a.start(serve=False)
    udr, ausf = apps[1], apps[3]
    client = ausf.client  # any in-process client reaches every service
    total = ues * (rounds + 1)
    keys = {}
    subs = []
    for i in range(total):
        supi = f"imsi-00101{i:010d}"
        k, opc = os.urandom(16), os.urandom(16)
        keys[supi] = (k, opc)
        subs.append(Subscriber(supi, k=k, opc=opc, profile="default"))
    udr.store.add_many(subs)
    gc.collect()
    guami = {"plmnId": PLMN, "amfId": "020040"}

    async def attach(supi: str, suci_s: str) -> float:
        """One attach's SBI calls; returns the UE-side CPU seconds spent inside (to subtract)."""
        r = await client.call("POST", "/nausf-auth/v1/ue-authentications",
                              body={"supiOrSuci": suci_s, "servingNetworkName": SNN})
        assert r.status == 201, r.json()
        data = r.json()
        t0 = time.process_time()
        k, opc = keys[supi]
        rand = bytes.fromhex(data["5gAuthData"]["rand"])
        res, ck, ik, _ak = milenage.f2345(k, opc, rand)
        res_star = kdf.res_star(ck, ik, SNN, rand, res).hex()
        ue_cpu = time.process_time() - t0
        path = data["_links"]["5g-aka"]["href"].split("://", 1)[1]
        path = path[path.index("/"):]
        r = await client.call("PUT", path, body={"resStar": res_star})
        assert r.status == 200 and r.json()["authResult"] == "AUTHENTICATION_SUCCESS", r.json()
        reg = {"amfInstanceId": "7f1a1b2c-0000-4000-8000-000000000001",
               "deregCallbackUri": f"http://127.0.0.5:7777/namf-callback/v1/{supi}/dereg-notify",
               "guami": guami, "ratType": "NR", "initialRegistrationInd": True}
        put, get = await asyncio.gather(
            client.call("PUT", f"/nudm-uecm/v1/{supi}/registrations/amf-3gpp-access", body=reg),
            client.call("GET", f"/nudm-sdm/v2/{supi}/am-data",
                        query={"plmn-id": json.dumps(PLMN, separators=(",", ":"))}))
        assert put.status in (200, 201, 204) and get.status == 200
        get.json()
        r = await client.call("GET", f"/nudm-sdm/v2/{supi}/sm-data",
                              query={"single-nssai": '{"sst":1}', "dnn": "internet"})
        assert r.status == 200
        r.json()
        smf = {"smfInstanceId": "7f1a1b2c-0000-4000-8000-000000000002", "pduSessionId": 1,
               "singleNssai": {"sst": 1}, "plmnId": PLMN, "dnn": "internet"}
        r = await client.call("PUT", f"/nudm-uecm/v1/{supi}/registrations/smf-registrations/1", body=smf)
        assert r.status in (200, 201, 204)
        pol = {"supi": supi, "pduSessionId": 1, "pduSessionType": "IPV4", "dnn": "internet",
               "sliceInfo": {"sst": 1}, "notificationUri": "http://127.0.0.4:7777/nsmf-callback/v1/sm-policies/1",
               "servingNetwork": PLMN, "subsSessAmbr": {"uplink": "1 Gbps", "downlink": "2 Gbps"},
               "subsDefQos": {"5qi": 9, "arp": {"priorityLevel": 8, "preemptCap": "NOT_PREEMPT",
                                                "preemptVuln": "NOT_PREEMPTABLE"}},
               "ratType": "NR", "accessType": "3GPP_ACCESS", "ipv4Address": "10.45.0.2"}
        r = await client.call("POST", "/npcf-smpolicycontrol/v1/sm-policies", body=pol)
        assert r.status == 201
        r.json()
        return ue_cpu

    per_attach: list[float] = []
    idx = 0
    for rnd in range(rounds + 1):
        batch = [f"imsi-00101{i:010d}" for i in range(idx, idx + ues)]
        idx += ues
        sucis = {s: suci.SuciIdentity.for_imsi("001", "01", s[10:], protection_scheme=1,
                                               hn_public_key=pub, hn_public_key_id=1).to_string()
                 for s in batch}
        gc.collect()
        c0 = time.process_time()
        ue = 0.0
        # 16 attaches in flight, like a loaded core (interleaved, not one after another)
        for j in range(0, ues, 16):
            ue += sum(await asyncio.gather(*(attach(s, sucis[s]) for s in batch[j:j + 16])))
        await asyncio.sleep(0)
        while ausf._tasks_report:  # the auth-events reports still in flight belong to this round
            await asyncio.sleep(0)
        cpu = time.process_time() - c0 - ue
        if rnd > 0:  # the first round warms caches and imports
            per_attach.append(cpu / ues * 1000)
    for a in reversed(apps):
        await a.stop()
    return {"ues_per_round": ues, "rounds": rounds, "chain_cpu_ms_per_attach": per_attach,
            "median": statistics.median(per_attach), "min": min(per_attach)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ues", type=int, default=1000, help="attaches per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", help="write a cProfile of the rounds to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
            out = asyncio.run(_run(Path(d), args.ues, args.rounds))
            prof.disable()
            prof.dump_stats(args.profile)
        else:
            out = asyncio.run(_run(Path(d), args.ues, args.rounds))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
