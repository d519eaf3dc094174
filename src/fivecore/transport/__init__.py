"""asyncio I/O: SCTP (kernel or userspace), UDP, HTTP/2, TUN. Knows bytes, not 5G."""
