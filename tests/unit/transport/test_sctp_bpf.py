"""The kernel-side SCTP demultiplexing filter of the userspace backend (classic BPF, socket(7)).

The program is run here through a small interpreter of the opcodes it uses, so the decision
for each (address, port) is checked without a socket; the e2e tests attach it for real.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.transport.sctp.endpoint import WILDCARD
from fivecore.transport.sctp.userspace import bpf_program


def run_bpf(prog: list[tuple[int, int, int, int]], pkt: bytes) -> int:
    """Interpret classic BPF (the subset bpf_program emits); returns the bytes to keep."""
    a = x = 0
    pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        pc += 1
        if code == 0xB1:  # ldxb 4*([k]&0xf)
            x = (pkt[k] & 0xF) * 4
        elif code == 0x48:  # ldh [x+k]
            if x + k + 2 > len(pkt):
                return 0
            a = struct.unpack_from("!H", pkt, x + k)[0]
        elif code == 0x20:  # ld [k]
            if k + 4 > len(pkt):
                return 0
            a = struct.unpack_from("!I", pkt, k)[0]
        elif code == 0x15:  # jeq #k
            pc += jt if a == k else jf
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def packet(dst: bytes, dport: int, ihl: int = 5) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 0, 0, 0, 64, 132, 0, bytes([127, 0, 0, 9]), dst)
    ip += bytes(4 * (ihl - 5))
    return ip + struct.pack("!HHII", 40000, dport, 1, 0) + bytes(16)


A = bytes([127, 94, 0, 5])
B = bytes([127, 90, 0, 5])


def test_port_and_address_must_both_match() -> None:
    prog = bpf_program({38412: [A]})
    assert prog is not None
    assert run_bpf(prog, packet(A, 38412)) > 0
    assert run_bpf(prog, packet(B, 38412)) == 0  # another AMF on the same port
    assert run_bpf(prog, packet(A, 38413)) == 0


def test_wildcard_takes_every_address_on_its_port() -> None:
    prog = bpf_program({38412: [WILDCARD], 5000: [B]})
    assert prog is not None
    assert run_bpf(prog, packet(A, 38412)) > 0
    assert run_bpf(prog, packet(B, 38412)) > 0
    assert run_bpf(prog, packet(B, 5000)) > 0
    assert run_bpf(prog, packet(A, 5000)) == 0


def test_ip_options_move_the_sctp_header() -> None:
    prog = bpf_program({38412: [A]})
    assert prog is not None
    assert run_bpf(prog, packet(A, 38412, ihl=7)) > 0
    assert run_bpf(prog, packet(A, 5, ihl=7)) == 0


def test_nothing_owned_or_too_much_means_no_filter() -> None:
    assert bpf_program({}) is None
    assert bpf_program({p: [A] for p in range(1, 300)}) is None


@settings(max_examples=200, deadline=None)
@given(
    owned=st.dictionaries(
        st.integers(1, 65535),
        st.lists(st.sampled_from([A, B, WILDCARD, bytes([10, 0, 0, 1])]), min_size=1, max_size=3),
        min_size=1, max_size=20,
    ),
    dst=st.sampled_from([A, B, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])]),
    port=st.integers(1, 65535),
)
def test_filter_agrees_with_the_python_demultiplexer(owned: dict[int, list[bytes]], dst: bytes, port: int) -> None:
    prog = bpf_program(owned)
    assert prog is not None
    ips = owned.get(port, [])
    expected = bool(ips) and (dst in ips or WILDCARD in ips)
    assert (run_bpf(prog, packet(dst, port)) > 0) == expected
    # a program whose jumps left the block structure would have crashed the interpreter
    assert all(0 <= jf <= 255 and 0 <= jt <= 255 for _, jt, jf, _ in prog)
