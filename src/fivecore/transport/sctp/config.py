"""SCTP association parameters (RFC 9260 §16 defaults, named like Open5GS's `sctp:` options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fivecore.errors import ConfigError

Backend = Literal["auto", "kernel", "userspace"]


@dataclass(frozen=True, slots=True)
class SctpConfig:
    """Tunables of one endpoint; times in seconds.

    RFC 9260 §16 gives the defaults: RTO.Initial 1 s, RTO.Min 1 s, RTO.Max 60 s,
    Max.Init.Retransmits 8, Association.Max.Retrans 10, Path.Max.Retrans 5, HB.interval 30 s,
    Valid.Cookie.Life 60 s.
    """

    backend: Backend = "auto"
    heartbeat_interval: float = 30.0  # 0 disables HEARTBEAT (RFC 9260 §8.3)
    rto_initial: float = 1.0
    rto_min: float = 1.0
    rto_max: float = 60.0
    max_init_retransmits: int = 8
    max_retransmissions: int = 10  # Association.Max.Retrans
    #: Path.Max.Retrans: errors after which one address of a multi-homed peer is inactive
    #: and traffic fails over to another (RFC 9260 §8.2)
    path_max_retransmissions: int = 5
    out_streams: int = 30
    in_streams: int = 65535
    mtu: int = 1500  # path MTU incl. the 20-byte IPv4 header
    receive_window: int = 1 << 20  # a_rwnd we advertise
    send_buffer: int = 1 << 20  # await send() blocks above this many queued bytes
    sack_delay: float = 0.2  # RFC 9260 §6.2: at most 500 ms
    cookie_lifetime: float = 60.0
    ootb_abort: bool = True  # ABORT out-of-the-blue packets sent to a port we listen on (§8.4)
    ootb_abort_rate: float = 100.0  # per second, so we never amplify a flood
    max_message_size: int = 1 << 20  # larger inbound messages abort the association
    #: userspace backend: a wake-up within ``rx_batch`` seconds of the last pass lets the
    #: packets queue in the socket until ``rx_batch`` has passed and takes them in one pass;
    #: the first after a quiet spell is read at once (like a NIC's interrupt moderation):
    #: under load fewer, warmer wake-ups and bundled answers, for up to that much latency.
    #: The largest value among a process's endpoints applies; 0 reads each wake-up at once.
    rx_batch: float = 0.0

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "kernel", "userspace"):
            raise ConfigError(f"sctp.backend: {self.backend!r} is not auto, kernel or userspace")
        if not 0 < self.rto_min <= self.rto_initial <= self.rto_max:
            raise ConfigError("sctp: need 0 < rto_min <= rto_initial <= rto_max")
        if not 1 <= self.out_streams <= 65535 or not 1 <= self.in_streams <= 65535:
            raise ConfigError("sctp: out_streams and in_streams must be 1..65535")
        if not 576 <= self.mtu <= 65535:
            raise ConfigError("sctp.mtu must be 576..65535")
        if self.receive_window < 1500:
            raise ConfigError("sctp.receive_window must be at least 1500 (RFC 9260 §3.3.2)")
        if self.max_init_retransmits < 0 or self.max_retransmissions < 0 or self.path_max_retransmissions < 0:
            raise ConfigError("sctp: retransmission limits must be >= 0")
        if not 0 <= self.rx_batch <= 0.05:
            raise ConfigError("sctp.rx_batch must be 0..0.05 s")
        if self.heartbeat_interval < 0 or self.sack_delay < 0 or self.sack_delay > 0.5:
            raise ConfigError("sctp: heartbeat_interval >= 0 and 0 <= sack_delay <= 0.5")
