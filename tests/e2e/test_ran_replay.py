"""Recorded attaches replayed into a socket-less simulator give the same uplink NGAP octets.

Attaches (registration with 5G-AKA and Profile A SUCI, security mode, one PDU session) run
against the real core (``fivecore up``) with the simulator's random choices seeded; feeding the
recorded downlink to a fresh simulator (:mod:`fivecore.ran.replay`) must reproduce every uplink
PDU octet for octet and complete every attach. A downlink PDU altered in one octet must change
what the simulator answers (the UE checks NAS MACs), so the comparison can fail.

Slot 4 of the benchmark address plan (NetPlan.slot) is this test's own.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_replayed_downlink_gives_identical_uplink(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: raw-IP SCTP and the UPF's TUN device")
    from fivecore.benchkit.network import BenchNetwork, NetPlan
    from fivecore.ran.replay import record, replay
    from fivecore.wire import ngap

    n = 24
    net = BenchNetwork(NetPlan.slot(4), workdir=tmp_path)
    net.start()
    try:
        net.provision(n)
        rec = asyncio.run(record(net, n, 20.0, seed=11))
    finally:
        net.stop()
    ul = rec.uplink()
    procs = [ngap.decode(d).procedure for d, _ in ul]
    # per attach: Initial UE Message, Authentication Response, Security Mode Complete, Initial
    # Context Setup Response, Registration Complete, the PDU session's UL NAS Transport and the
    # PDU Session Resource Setup Response
    assert procs.count("InitialUEMessage") == n and procs.count("PDUSessionResourceSetup") == n
    assert len(ul) == 7 * n

    res = asyncio.run(replay(rec))
    assert res.attaches_ok == n
    assert res.uplink == ul

    # the same again: nothing leaks from one replay into the next
    assert asyncio.run(replay(rec)).uplink == ul

    # one octet of the first protected downlink NAS message changed: the UE must notice
    events = list(rec.events)
    for i, (kind, data, stream) in enumerate(events):
        if kind == "dl" and ngap.decode(data).procedure == "DownlinkNASTransport":
            nas_pdu = ngap.decode(data)["NAS-PDU"]
            if nas_pdu[1] & 0x0F:  # security protected
                bad = bytearray(data)
                bad[len(bad) - 1] ^= 0x01
                events[i] = (kind, bytes(bad), stream)
                break
    else:
        pytest.fail("no protected Downlink NAS Transport recorded")
    tampered = asyncio.run(replay(replace(rec, events=events)))
    assert tampered.uplink != ul
    # that UE drops the message (bad MAC) and never attaches; the UEs after it draw different
    # PTIs and TEIDs from the shared seeded generator, so their recorded answers no longer fit
    assert tampered.attaches_ok < n
