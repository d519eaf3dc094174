"""The simulated gNB's user plane forgets every tunnel when its N2 association is lost."""

from __future__ import annotations

from typing import Any

from fivecore.ran.userplane import GnbUserPlane, Tunnel


class FakeGnb:  # only what GnbUserPlane hooks into
    def __init__(self) -> None:
        self.raw_listeners: list[Any] = []
        self.lost_listeners: list[Any] = []
        self.ics_sessions: Any = None


def test_tunnels_go_with_the_n2_association() -> None:
    gnb = FakeGnb()
    up = GnbUserPlane(gnb)
    down: list[Tunnel] = []
    up.on_tunnel_down = down.append
    ues = [object(), object()]
    for i, ru in enumerate(ues):
        t = Tunnel(ru, 1, 100 + i, 200 + i, ("127.0.0.7", 2152), 1)
        up.tunnels[t.dl_teid] = t
        up.by_session[(id(ru), 1)] = t
    assert gnb.lost_listeners == [up.n2_lost]
    for cb in gnb.lost_listeners:
        cb(gnb, "ABORT")
    assert not up.tunnels and not up.by_session and len(down) == 2
    assert up.stats["tunnels_dropped_on_n2_loss"] == 2
