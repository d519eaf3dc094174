"""UDM state: home network keys for the SIDF, SUPI/SUCI resolution (TS 33.501 §6.12.5)."""

from __future__ import annotations

import re

from fivecore.config import Config
from fivecore.security.errors import SuciError, SuciMacError
from fivecore.security.suci import ProtectionScheme, SuciIdentity
from fivecore.transport.http2 import HttpError

SUPI_RE = re.compile(r"imsi-[0-9]{5,15}\Z")  # \Z: "$" would let a trailing newline through
_SCHEME_OF = {"A": ProtectionScheme.PROFILE_A, "B": ProtectionScheme.PROFILE_B}


class UdmContext:
    """Home network private keys by id and the SIDF."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.hn_keys: dict[int, tuple[int, bytes]] = {
            k.id: (int(_SCHEME_OF[k.scheme]), k.key_bytes()) for k in config.home_network_keys
        }
        self.test_rand = bytes.fromhex(config.udm.test_rand) if config.udm.test_rand else None

    def resolve(self, supi_or_suci: str) -> str:
        """SUPI of a ``supiOrSuci`` path value; SIDF de-concealment for SUCIs (TS 33.501 §6.12.5).

        Errors (TS 29.503 §6.3.7.3): malformed -> 400 MANDATORY_IE_INCORRECT; unknown key id ->
        403 INVALID_HN_PUBLIC_KEY_IDENTIFIER; MAC failure -> 403 INVALID_SCHEME_OUTPUT;
        scheme other than null/A/B -> 501 UNSUPPORTED_PROTECTION_SCHEME.
        """
        if SUPI_RE.match(supi_or_suci):
            return supi_or_suci
        if not supi_or_suci.startswith("suci-"):
            raise HttpError(400, "MANDATORY_IE_INCORRECT", "supiOrSuci is neither an IMSI SUPI nor a SUCI",
                            invalid_params=[{"param": "supiOrSuci", "reason": "expected imsi-<digits> or suci-..."}])
        try:
            suci = SuciIdentity.from_string(supi_or_suci)
        except SuciError as exc:
            raise HttpError(400, "MANDATORY_IE_INCORRECT", f"malformed SUCI: {exc}",
                            invalid_params=[{"param": "supiOrSuci", "reason": "malformed SUCI"}]) from None
        scheme = suci.protection_scheme
        if scheme == ProtectionScheme.NULL:
            key = None
        elif scheme in (ProtectionScheme.PROFILE_A, ProtectionScheme.PROFILE_B):
            entry = self.hn_keys.get(suci.hn_public_key_id)
            if entry is None or entry[0] != scheme:
                raise HttpError(403, "INVALID_HN_PUBLIC_KEY_IDENTIFIER",
                                f"no home network key {suci.hn_public_key_id} for scheme {scheme}")
            key = entry[1]
        else:
            raise HttpError(501, "UNSUPPORTED_PROTECTION_SCHEME", f"protection scheme {scheme} not supported")
        try:
            return suci.to_supi(key)
        except SuciMacError:
            raise HttpError(403, "INVALID_SCHEME_OUTPUT", "SUCI scheme output does not verify") from None
        except SuciError as exc:
            raise HttpError(403, "INVALID_SCHEME_OUTPUT", f"SUCI cannot be de-concealed: {exc}") from None
