"""Hostile or careless arguments: every public function raises a SecurityError, nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.security import SecurityError, kdf, milenage, suci
from fivecore.security.nas_algorithms import nea, nia

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=6),
    st.binary(max_size=40),
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=32, max_size=32),
)

FUNCS = [
    (milenage.compute_opc, 2),
    (milenage.f1, 5),
    (milenage.f1star, 5),
    (milenage.f2345, 3),
    (milenage.f5star, 3),
    (kdf.kdf, 3),
    (kdf.res_star, 5),
    (kdf.hxres_star, 2),
    (kdf.kausf, 4),
    (kdf.kseaf, 2),
    (kdf.kamf, 3),
    (kdf.nas_keys, 3),
    (kdf.kgnb, 3),
    (kdf.nh, 2),
    (kdf.kng_ran_star, 3),
    (kdf.ck_ik_prime, 4),
    (kdf.eap_aka_prime_keys, 3),
    (kdf.kausf_from_emsk, 1),
    (nea, 6),
    (nia, 6),
    (suci.conceal, 3),
    (suci.deconceal, 3),
    (suci.deconceal_raw, 3),
    (suci.decode_msin_bcd, 1),
    (suci.encode_msin_bcd, 1),
    (suci.SuciIdentity.decode, 1),
    (suci.SuciIdentity.from_string, 1),
]


@settings(max_examples=400, deadline=None)
@given(pick=st.integers(0, len(FUNCS) - 1), data=st.data())
def test_only_security_errors_escape(pick, data):
    fn, arity = FUNCS[pick]
    args = [data.draw(junk) for _ in range(arity)]
    try:
        fn(*args)
    except SecurityError:
        pass
