"""5G security primitives: pure functions and sans-I/O classes, bytes in, bytes out.

Modules: :mod:`.milenage` (TS 35.206), :mod:`.kdf` (TS 33.220 B.2, TS 33.501 Annex A,
RFC 5448), :mod:`.suci` (TS 33.501 Annex C), :mod:`.nas_algorithms` (NEA/NIA 0-3,
TS 33.501 Annex D) and :mod:`.nas_context` (TS 24.501 §4.4). The exception hierarchy of
:mod:`.errors` is re-exported here.
"""

from fivecore.security.errors import (
    IntegrityError,
    InvalidParameterError,
    KeyLengthError,
    NasDecodeError,
    NasSecurityError,
    ReplayError,
    SecurityError,
    SuciError,
    SuciMacError,
    UnknownAlgorithmError,
    UnknownProtectionSchemeError,
)

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
