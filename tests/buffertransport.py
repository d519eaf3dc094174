"""An ``asyncio.Transport`` that keeps what a protocol writes, for driving the SBI's HTTP/2
client and server protocols in unit tests without a socket."""

from __future__ import annotations

import asyncio
from typing import Any


class BufferTransport(asyncio.Transport):
    """Bytes the protocol writes collect in ``out``; ``close`` only marks it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def take(self) -> bytes:
        """What was written since the last ``take``."""
        data, self.out = bytes(self.out), bytearray()
        return data
