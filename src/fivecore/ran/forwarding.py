"""Direct downlink data forwarding of an N2 handover, gNB to gNB (sans-I/O).

TS 23.502 §4.9.1.3.2 / §4.9.1.3.3; TS 38.413 §8.4.1.2, §8.4.2.2, §9.3.4.10,
§9.3.4.11; TS 38.300 §9.2.3.2.3 (data forwarding); TS 29.281 §5.2.2 / §7.3.2 (End Marker).

- The **source** (:class:`SourceForwarding`), once it has sent the UE the handover command,
  no longer delivers the session's downlink to the UE: every G-PDU still arriving on its old
  N3 tunnel is sent in GTP-U to the target's DL forwarding tunnel (the F-TEID of the Handover
  Command Transfer's dLForwardingUP-TNLInformation), with the QFI it came with. When the UPF's
  End Marker arrives on the old tunnel (the SMF's SNDEM at hoState COMPLETED, TS 29.244
  §5.2.1) nothing more will come that way: the source sends an End Marker on the forwarding
  tunnel and stops.
- The **target** (:class:`TargetOrdering`) delivers forwarded packets to the UE at once,
  and holds the packets of the new N3 path (the UPF's switched downlink) until the End
  Marker arrives on the forwarding tunnel, so the UE gets the forwarded (older) packets
  before the fresh ones, as TS 38.300 §9.2.3.2.3 and TS 36.300 §10.1.2.2 ask. A bound on what
  is held (``limit``) and the I/O layer's timer (:meth:`TargetOrdering.expire`, for an End
  Marker that never comes) give up the ordering rather than the packets.

The classes take payloads and return what to send or deliver; sockets, TUN devices and
timers are :class:`fivecore.ran.userplane.GnbUserPlane`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fivecore.wire import gtpu


@dataclass(slots=True)
class SourceForwarding:
    """The source's forwarding of one PDU session to the target's DL forwarding tunnel."""

    #: the target's DL forwarding F-TEID (TS 38.413 §9.3.4.10 dLForwardingUP-TNLInformation)
    teid: int
    peer: tuple[str, int]
    forwarded: int = 0
    ended: bool = False

    def packet(self, payload: bytes, qfi: int | None) -> bytes:
        """One downlink IP packet from the old N3 tunnel, as a G-PDU to the target: the PDU
        Session Container keeps the QFI the UPF marked (TS 38.415 §5.5.2.1)."""
        self.forwarded += 1
        return gtpu.encap(self.teid, payload, qfi=qfi, pdu_type=gtpu.PDU_TYPE_DL)

    def end_marker(self) -> bytes:
        """TS 29.281 §7.3.2 / TS 38.300 §9.2.3.2.3: the UPF's End Marker reached the source;
        it is passed on to the target on the forwarding tunnel, and forwarding ends."""
        self.ended = True
        return gtpu.build_end_marker(self.teid)


@dataclass(slots=True)
class TargetOrdering:
    """The target's ordering of one session's downlink during forwarding (module docstring):
    ``forwarded``/``fresh`` return the packets to deliver to the UE now, in order."""

    limit: int = 4096
    #: True until the End Marker (or expiry): fresh packets wait behind forwarded ones
    active: bool = True
    held: list[bytes] = field(default_factory=list)
    forwarded_rx: int = 0
    fresh_held: int = 0
    #: how ordering ended: "end-marker", "overflow", "expired" ('' while active)
    ended_by: str = ""

    def forwarded(self, payload: bytes) -> list[bytes]:
        """A packet from the source's forwarding tunnel: older than anything on the new path
        (the UPF sent it before switching), so it goes to the UE at once."""
        self.forwarded_rx += 1
        return [payload]

    def fresh(self, payload: bytes) -> list[bytes]:
        """A packet from the new N3 path: held while forwarding may still bring older ones."""
        if not self.active:
            return [payload]
        if len(self.held) >= self.limit:
            return self._release("overflow") + [payload]
        self.held.append(payload)
        self.fresh_held += 1
        return []

    def end_marker(self) -> list[bytes]:
        """The End Marker on the forwarding tunnel: everything forwarded has arrived, the held
        fresh packets follow, and from now the new path is delivered as it comes."""
        return self._release("end-marker")

    def expire(self) -> list[bytes]:
        """No End Marker in time (lost, or a source that never forwarded): give up ordering."""
        return self._release("expired")

    def _release(self, why: str) -> list[bytes]:
        if not self.active:
            return []
        self.active = False
        self.ended_by = why
        out, self.held = self.held, []
        return out


__all__ = ["SourceForwarding", "TargetOrdering"]
