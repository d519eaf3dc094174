"""fivecore.rng: block-read random octets are never handed out twice, not even across fork."""

from __future__ import annotations

import os

from fivecore import rng


def test_sizes_and_types() -> None:
    assert len(rng.token_bytes(16)) == 16
    assert len(rng.token_hex(8)) == 16
    int(rng.token_hex(8), 16)
    assert rng.randbits(0) == 0
    for k in (1, 7, 8, 9, 32, 64):
        assert all(0 <= rng.randbits(k) < (1 << k) for _ in range(200))
    # larger than a quarter block: read directly, still the right length
    assert len(rng.token_bytes(rng.BLOCK)) == rng.BLOCK


def test_no_octets_repeat_across_refills() -> None:
    seen = {rng.token_bytes(16) for _ in range(3 * rng.BLOCK // 16)}
    assert len(seen) == 3 * rng.BLOCK // 16  # 16 random octets never collide by chance


def test_top_bits_vary() -> None:
    # randbits must use all k bits, not leave the top ones at zero
    assert max(rng.randbits(32) for _ in range(500)) >= 1 << 30


def test_forked_child_does_not_reuse_the_parents_block() -> None:
    rng.token_bytes(1)  # a block is loaded in the parent
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        os.write(w, rng.token_bytes(32))
        os._exit(0)
    os.close(w)
    child = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    parent = rng.token_bytes(32)
    assert len(child) == 32 and child != parent
