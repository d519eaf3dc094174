"""Exception hierarchy of the security layer.

Every failure that bad input can cause in ``fivecore.security`` is one of these; callers can
catch :class:`SecurityError` for "the bytes or keys were wrong" without also catching
programming errors. Errors that describe a malformed *argument* (wrong key length, unknown
algorithm id) also derive from :class:`ValueError` so generic validation code treats them as
such.
"""

from __future__ import annotations

from fivecore.errors import FivecoreError


class SecurityError(FivecoreError):
    """Base class of every error raised on purpose by ``fivecore.security``."""


class KeyLengthError(SecurityError, ValueError):
    """A key or fixed-size parameter (K, OPc, RAND, SQN, KAMF, ...) has the wrong length."""


class UnknownAlgorithmError(SecurityError, ValueError):
    """An algorithm / protection-scheme identifier outside the supported set."""


class InvalidParameterError(SecurityError, ValueError):
    """A parameter is out of range (COUNT wider than 32 bits, BEARER wider than 5 bits, ...)."""


class SuciError(SecurityError, ValueError):
    """A SUCI, its scheme output or a home-network key cannot be used (malformed, tampered)."""


class UnknownProtectionSchemeError(SuciError, UnknownAlgorithmError):
    """A SUCI protection scheme other than null, Profile A or Profile B (TS 33.501 Annex C.1).

    Both a :class:`SuciError` and an :class:`UnknownAlgorithmError`, so a SIDF that catches
    either sees it.
    """


class SuciMacError(SuciError):
    """The ECIES MAC tag of a SUCI scheme output does not verify (TS 33.501 Annex C.3.3)."""


class NasSecurityError(SecurityError):
    """Base class of NAS security-protection failures (TS 24.501 §4.4)."""


class NasDecodeError(NasSecurityError, ValueError):
    """A security-protected NAS message is truncated or its outer header is malformed."""


class IntegrityError(NasSecurityError):
    """The NAS MAC does not verify, or integrity protection is required but absent."""


class ReplayError(NasSecurityError):
    """The NAS COUNT of a message was already accepted (TS 33.501 §6.4.3.2 replay protection)."""


__all__ = [
    "IntegrityError",
    "InvalidParameterError",
    "KeyLengthError",
    "NasDecodeError",
    "NasSecurityError",
    "ReplayError",
    "SecurityError",
    "SuciError",
    "SuciMacError",
    "UnknownAlgorithmError",
    "UnknownProtectionSchemeError",
]
