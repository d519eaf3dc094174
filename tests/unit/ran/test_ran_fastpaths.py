"""Simulator shortcuts against the reference functions: UE-side SUCI concealment (TS 33.501
Annex C), the extended PCO DNS addresses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.security import suci


@given(key=st.binary(min_size=16, max_size=16), prefix=st.binary(min_size=12, max_size=12),
       ctr=st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([2**32 - 1, 2**32 - 2, 2**32 - 3])),
       data=st.binary(min_size=1, max_size=80))
@settings(max_examples=300, deadline=None)
def test_conceal_ctr_equals_the_annex_c_incrementing_function(key: bytes, prefix: bytes, ctr: int,
                                                               data: bytes) -> None:
    """C.3.4.0: counter m = 32 bits; equal to the reference also where the counter wraps."""
    icb = prefix + ctr.to_bytes(4, "big")
    assert suci._aes_ctr_conceal(key, icb, data) == suci._aes_ctr(key, icb, data)


def test_profile_a_conceal_round_trips_with_a_cached_home_network_key() -> None:
    priv, pub = suci.generate_hn_keypair(1)
    outs = {suci.conceal("0000000001", 1, pub) for _ in range(3)}
    assert len(outs) == 3  # a fresh ephemeral key per SUCI (C.3.2), never reused
    for out in outs:
        assert suci.deconceal(out, 1, priv) == "0000000001"


@given(dns=st.lists(st.binary(min_size=4, max_size=4), max_size=3), junk=st.binary(max_size=6))
@settings(max_examples=200, deadline=None)
def test_pco_dns_addresses_read_like_ipaddress_writes_them(dns: list[bytes], junk: bytes) -> None:
    """TS 24.008 §10.5.6.3: DNS Server IPv4 Address containers (0x000D) of an extended PCO."""
    import ipaddress

    from fivecore.ran.userplane import _pco_dns

    epco = b"\x80" + b"".join(b"\x00\x0d\x04" + a for a in dns) + b"\x00\x10\x02\x05\xdc"
    assert _pco_dns(epco) == [str(ipaddress.IPv4Address(a)) for a in dns]
    _pco_dns(b"\x80" + junk)  # never raises on short or odd containers
