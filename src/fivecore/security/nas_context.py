"""NAS security: protecting and unprotecting 5GS NAS messages, TS 24.501 §4.4 and §9.1.1.

A security-protected 5GS NAS message is (TS 24.501 Figure 9.1.1.2 / Table 9.1.1.1)::

    octet 1     extended protocol discriminator (0x7E, 5GMM)
    octet 2     spare half octet | security header type (bits 4-1)
    octets 3-6  message authentication code (MAC)
    octet 7     sequence number (the 8 LSBs of NAS COUNT)
    octets 8-n  the plain 5GS NAS message, ciphered for header types 2 and 4

The MAC covers octets 7..n (sequence number and the possibly ciphered message, TS 24.501
§4.4.3.3); ciphering covers octets 8..n. The inputs follow TS 33.501 §6.4.3.1 / §6.4.4.1:
``COUNT = 0x00 || NAS OVERFLOW (16 bits) || NAS SQN (8 bits)``, BEARER = the NAS connection
identifier (0x01 for 3GPP access, 0x02 for non-3GPP, TS 33.501 §6.4.2.2), DIRECTION 0 for
uplink and 1 for downlink.

:class:`NasSecurityContext` is a sans-I/O object owned by one NAS connection of one UE: the
AMF creates it with ``role=Role.NETWORK`` (protects downlink, unprotects uplink), the
simulated UE with ``role=Role.UE``. :meth:`NasSecurityContext.unprotect` returns content
only after its MAC verified and its COUNT passed replay protection; otherwise it raises
:class:`~fivecore.security.errors.IntegrityError`,
:class:`~fivecore.security.errors.ReplayError` or
:class:`~fivecore.security.errors.NasDecodeError`. To look at a header before any
context exists (e.g. to read a Security Mode Command), use :func:`parse_header_unverified`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum

from fivecore.security import kdf
from fivecore.security._util import check_bytes, check_uint
from fivecore.security.errors import (
    IntegrityError,
    InvalidParameterError,
    NasDecodeError,
    NasSecurityError,
    ReplayError,
    UnknownAlgorithmError,
)
from fivecore.security.nas_algorithms import nea_for_key, nia_for_key

__all__ = [
    "EPD_5GMM",
    "NAS_CONNECTION_3GPP",
    "NAS_CONNECTION_NON_3GPP",
    "NasCountExhaustedError",
    "NasSecurityContext",
    "Role",
    "SecurityHeaderType",
    "UnprotectedNas",
    "UnverifiedNasHeader",
    "parse_header_unverified",
]

EPD_5GMM = 0x7E  # TS 24.007 §11.2.3.1.1A
NAS_CONNECTION_3GPP = 0x01  # TS 33.501 §6.4.2.2
NAS_CONNECTION_NON_3GPP = 0x02
_HEADER_LEN = 7
_COUNT_LIMIT = 1 << 24  # NAS COUNT is 24 bits (TS 24.501 §4.4.3.1)


class SecurityHeaderType(IntEnum):
    """Security header type, TS 24.501 §9.3.1 (Table 9.3.1.1)."""

    PLAIN = 0
    INTEGRITY_PROTECTED = 1
    INTEGRITY_PROTECTED_AND_CIPHERED = 2
    INTEGRITY_PROTECTED_WITH_NEW_CONTEXT = 3
    INTEGRITY_PROTECTED_AND_CIPHERED_WITH_NEW_CONTEXT = 4

    @property
    def ciphered(self) -> bool:
        """True for the header types whose NAS message is ciphered (2 and 4)."""
        return self in (
            SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED,
            SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED_WITH_NEW_CONTEXT,
        )


class Role(Enum):
    """Which end of the N1 connection a context belongs to."""

    NETWORK = "network"  # AMF: sends downlink (DIRECTION 1), receives uplink (DIRECTION 0)
    UE = "ue"  # UE: sends uplink, receives downlink


class NasCountExhaustedError(NasSecurityError):
    """The 24-bit NAS COUNT would wrap: the context must be replaced (TS 33.501 §6.9.4.2)."""


@dataclass(frozen=True, slots=True)
class UnverifiedNasHeader:
    """The outer header of a NAS message, parsed WITHOUT any integrity check.

    Nothing here is authenticated: use it only to route a message (e.g. to find the
    security header type or sequence number, or to read the algorithms of a Security Mode
    Command before creating the context that verifies it).
    """

    epd: int
    security_header_type: SecurityHeaderType
    mac: bytes
    sequence_number: int
    unverified_payload: bytes  # the inner NAS message, still ciphered for types 2 and 4


def parse_header_unverified(data: bytes) -> UnverifiedNasHeader:
    """Parse the outer header of a 5GS NAS message without verifying it (TS 24.501 §9.1.1).

    For a plain message (security header type 0) ``mac`` is empty, ``sequence_number``
    is -1 and ``unverified_payload`` is the whole message. Raises :class:`NasDecodeError`
    on truncated input, an EPD other than 5GMM for a protected message or a reserved
    security header type.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NasDecodeError(f"NAS message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 2:
        raise NasDecodeError(f"NAS message too short ({len(data)} octets)")
    epd = data[0]
    if epd != EPD_5GMM:
        # 5GSM messages (EPD 0x2E) are never security-protected on their own.
        return UnverifiedNasHeader(epd, SecurityHeaderType.PLAIN, b"", -1, data)
    sht_value = data[1] & 0x0F
    try:
        sht = SecurityHeaderType(sht_value)
    except ValueError:
        raise NasDecodeError(f"reserved security header type {sht_value}") from None
    if sht is SecurityHeaderType.PLAIN:
        return UnverifiedNasHeader(epd, sht, b"", -1, data)
    if len(data) <= _HEADER_LEN:
        raise NasDecodeError(
            f"security-protected NAS message too short ({len(data)} octets, need > {_HEADER_LEN})"
        )
    return UnverifiedNasHeader(epd, sht, data[2:6], data[6], data[_HEADER_LEN:])


@dataclass(frozen=True, slots=True)
class UnprotectedNas:
    """A received NAS message after successful verification (and deciphering).

    ``integrity_verified`` is False only when the context uses NIA0, which the caller
    must have allowed explicitly; ``count`` is the 24-bit NAS COUNT that was accepted.
    """

    message: bytes
    security_header_type: SecurityHeaderType
    sequence_number: int
    count: int
    integrity_verified: bool
    ciphered: bool


class NasSecurityContext:
    """A 5G NAS security context for one NAS connection (TS 24.501 §4.4, TS 33.501 §6.4).

    Holds K_NASint / K_NASenc, the selected algorithms and the two NAS COUNTs. The sending
    COUNT starts at ``ul_count`` (UE) or ``dl_count`` (network) and increases by one per
    protected message; the receiving side keeps the next acceptable COUNT and estimates
    the overflow counter from the received sequence number (TS 24.501 §4.4.3.1).

    Replay protection (TS 33.501 §6.4.3.2): each received COUNT is accepted at most once.
    A message whose sequence number is at or below that of the last accepted message is
    taken to start a new overflow period; if instead it verifies under the COUNT already
    used, it is a replay and :class:`ReplayError` is raised (a replay from an older overflow
    period fails as :class:`IntegrityError`; either way it is never accepted).

    The MAC does not cover the security header type (TS 24.501 §4.4.3.3), so an attacker
    could relabel a ciphered message as integrity-only. Once a ciphered message has been
    sent or accepted, :attr:`ciphering_in_use` is set and header types 1 and 3 are refused
    (TS 24.501 §4.4.5, TS 33.501 §6.4.4.2) until :meth:`new_signalling_connection` is
    called, which the owner does when a new NAS signalling connection starts (whose initial
    message is legitimately integrity-protected only).
    """

    __slots__ = (
        "_k_int",
        "_k_enc",
        "_int_alg",
        "_enc_alg",
        "role",
        "nas_connection_id",
        "_tx_count",
        "_rx_next",
        "_last_rx_count",
        "_last_tx_count",
        "_tx_dir",
        "_rx_dir",
        "ciphering_in_use",
        "_nea",
        "_nia",
    )

    def __init__(
        self,
        role: Role,
        *,
        k_nas_int: bytes,
        k_nas_enc: bytes,
        int_alg: int,
        enc_alg: int,
        nas_connection_id: int = NAS_CONNECTION_3GPP,
        ul_count: int = 0,
        dl_count: int = 0,
        allow_null_integrity: bool = False,
    ) -> None:
        if not isinstance(role, Role):
            raise InvalidParameterError(f"role must be a Role, got {role!r}")
        if isinstance(int_alg, bool) or not isinstance(int_alg, int) or not 0 <= int_alg <= 3:
            raise UnknownAlgorithmError(
                f"integrity algorithm id {int_alg!r} is not supported (0-3)"
            )
        if isinstance(enc_alg, bool) or not isinstance(enc_alg, int) or not 0 <= enc_alg <= 3:
            raise UnknownAlgorithmError(
                f"ciphering algorithm id {enc_alg!r} is not supported (0-3)"
            )
        if int_alg == 0 and not allow_null_integrity:
            raise UnknownAlgorithmError(
                "NIA0 refused: null integrity is only for unauthenticated emergency sessions "
                "(TS 33.501 §5.5.2); pass allow_null_integrity=True to use it"
            )
        if not (type(nas_connection_id) is int and 0 <= nas_connection_id < 32):
            check_uint("NAS connection identifier", nas_connection_id, 5)
        if not (type(ul_count) is int and type(dl_count) is int and 0 <= ul_count < _COUNT_LIMIT
                and 0 <= dl_count < _COUNT_LIMIT):  # fmt: skip
            check_uint("UL NAS COUNT", ul_count, 24)
            check_uint("DL NAS COUNT", dl_count, 24)
        if not (type(k_nas_int) is bytes and len(k_nas_int) == 16):
            k_nas_int = check_bytes("K_NASint", k_nas_int, 16)
        if not (type(k_nas_enc) is bytes and len(k_nas_enc) == 16):
            k_nas_enc = check_bytes("K_NASenc", k_nas_enc, 16)
        self._k_int = k_nas_int
        self._k_enc = k_nas_enc
        self._int_alg = int_alg
        self._enc_alg = enc_alg
        self.role = role
        self.nas_connection_id = nas_connection_id
        if role is Role.UE:
            self._tx_count, self._rx_next, self._tx_dir, self._rx_dir = ul_count, dl_count, 0, 1
        else:
            self._tx_count, self._rx_next, self._tx_dir, self._rx_dir = dl_count, ul_count, 1, 0
        self._last_rx_count: int | None = None
        self._last_tx_count: int | None = None
        self.ciphering_in_use = False
        # per-key cipher objects, built once for the messages of this context (the keys,
        # algorithms, BEARER and DIRECTIONs were checked just above)
        self._nea = nea_for_key(enc_alg, self._k_enc)
        self._nia = nia_for_key(int_alg, self._k_int)

    @property
    def int_alg(self) -> int:
        """The NIA algorithm identity (0-3) of this context."""
        return self._int_alg

    @int_alg.setter
    def int_alg(self, value: int) -> None:
        # the per-key MAC object follows the algorithm
        self._int_alg = value
        self._nia = nia_for_key(value, self._k_int)

    @property
    def enc_alg(self) -> int:
        """The NEA algorithm identity (0-3) of this context."""
        return self._enc_alg

    @enc_alg.setter
    def enc_alg(self, value: int) -> None:
        self._enc_alg = value
        self._nea = nea_for_key(value, self._k_enc)

    def new_signalling_connection(self) -> None:
        """A new N1 NAS signalling connection starts: unciphered messages are acceptable again."""
        self.ciphering_in_use = False

    @classmethod
    def from_kamf(
        cls,
        role: Role,
        kamf: bytes,
        *,
        int_alg: int,
        enc_alg: int,
        nas_connection_id: int = NAS_CONNECTION_3GPP,
        ul_count: int = 0,
        dl_count: int = 0,
        allow_null_integrity: bool = False,
    ) -> NasSecurityContext:
        """Derive K_NASenc / K_NASint from KAMF (TS 33.501 Annex A.8) and build a context."""
        k_enc, k_int = kdf.nas_keys(kamf, enc_alg, int_alg)
        return cls(
            role,
            k_nas_int=k_int,
            k_nas_enc=k_enc,
            int_alg=int_alg,
            enc_alg=enc_alg,
            nas_connection_id=nas_connection_id,
            ul_count=ul_count,
            dl_count=dl_count,
            allow_null_integrity=allow_null_integrity,
        )

    def __repr__(self) -> str:  # keys never appear in logs
        return (
            f"NasSecurityContext(role={self.role.value}, nia={self.int_alg}, nea={self.enc_alg}, "
            f"tx_count={self._tx_count}, rx_next={self._rx_next})"
        )

    # -- counters --

    @property
    def ul_count(self) -> int:
        """Next uplink NAS COUNT: to be sent (UE) or lowest acceptable (network)."""
        return self._tx_count if self.role is Role.UE else self._rx_next

    @property
    def dl_count(self) -> int:
        """Next downlink NAS COUNT: to be sent (network) or lowest acceptable (UE)."""
        return self._rx_next if self.role is Role.UE else self._tx_count

    @property
    def last_ul_count(self) -> int | None:
        """COUNT of the last uplink message sent (UE) or accepted (network), e.g. for KgNB (A.9)."""
        return self._last_tx_count if self.role is Role.UE else self._last_rx_count

    @property
    def last_dl_count(self) -> int | None:
        """COUNT of the last downlink message sent (network) or accepted (UE)."""
        return self._last_rx_count if self.role is Role.UE else self._last_tx_count

    # -- sending --

    def protect(
        self,
        message: bytes,
        security_header_type: SecurityHeaderType = SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED,
    ) -> bytes:
        """Security-protect a plain 5GS NAS message with the next sending COUNT (TS 24.501 §4.4.3-4.4.5).

        Header types 1 and 3 integrity-protect only (e.g. Security Mode Command with type 3,
        initial Registration Request with type 1); 2 and 4 also cipher. Raises
        :class:`NasCountExhaustedError` when the 24-bit COUNT is used up.
        """
        sht = security_header_type
        if sht.__class__ is not SecurityHeaderType:
            sht = SecurityHeaderType(sht)
        if sht is SecurityHeaderType.PLAIN:
            raise InvalidParameterError("protect() needs a security header type 1-4")
        if type(message) is not bytes:
            if not isinstance(message, bytes | bytearray | memoryview) or not message:
                raise InvalidParameterError("NAS message must be non-empty bytes")
            message = bytes(message)
        elif not message:
            raise InvalidParameterError("NAS message must be non-empty bytes")
        count = self._tx_count
        if count >= _COUNT_LIMIT:
            raise NasCountExhaustedError(
                "sending NAS COUNT exhausted; a new security context is needed"
            )
        # the algorithms, keys and identifiers were checked in __init__; COUNT just above
        ciphered = sht is _SHT_CIPHERED or sht is _SHT_CIPHERED_NEW
        body = self._nea(count, self.nas_connection_id, self._tx_dir, message) if ciphered else message
        signed = _OCTET[count & 0xFF] + body
        mac = self._nia(count, self.nas_connection_id, self._tx_dir, signed)
        self._tx_count = count + 1
        self._last_tx_count = count
        if ciphered:
            self.ciphering_in_use = True
        return _OUTER[sht] + mac + signed

    # -- receiving --

    def _mac_ok(self, count: int, signed: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self._nia(count, self.nas_connection_id, self._rx_dir, signed), mac)

    def unprotect(self, data: bytes) -> UnprotectedNas:
        """Verify, replay-check and decipher a received security-protected NAS message.

        Returns :class:`UnprotectedNas` and advances the receiving COUNT only on success.
        Raises :class:`NasDecodeError` (truncated/malformed header), :class:`IntegrityError`
        (plain message, or MAC mismatch) or :class:`ReplayError` (COUNT already accepted).
        """
        if type(data) is bytes and len(data) > _HEADER_LEN and data[0] == EPD_5GMM and 0 < data[1] & 0x0F < 5:
            # the common case, read in place; anything else goes through the full parser
            sht = _SHT_BY_VALUE[data[1] & 0x0F]
            mac = data[2:6]
            sqn = data[6]
            payload = data[_HEADER_LEN:]
        else:
            hdr = parse_header_unverified(data)
            sht = hdr.security_header_type
            if sht is SecurityHeaderType.PLAIN:
                raise IntegrityError("NAS message is not integrity protected")
            mac, sqn, payload = hdr.mac, hdr.sequence_number, hdr.unverified_payload
            data = bytes(data)
        ciphered = sht is _SHT_CIPHERED or sht is _SHT_CIPHERED_NEW
        if self.ciphering_in_use and not ciphered:
            raise IntegrityError("unciphered NAS message while ciphering is in use")
        signed = data[6:]
        nxt = self._rx_next
        count = ((nxt >> 8) << 8) | sqn
        wrapped = count < nxt
        if wrapped:
            count += 256  # the sender's overflow counter moved on (TS 24.501 §4.4.3.1)
        if self._int_alg == 0:
            # NIA0: no MAC and no replay protection (TS 33.501 §6.4.3.2); allowed explicitly.
            verified = False
        else:
            verified = True
            if count >= _COUNT_LIMIT or not self._mac_ok(count, signed, mac):
                if wrapped and self._mac_ok(count - 256, signed, mac):
                    raise ReplayError(
                        f"NAS COUNT {count - 256} was already used (replayed message)"
                    )
                raise IntegrityError("NAS MAC verification failed")
        body = self._nea(count, self.nas_connection_id, self._rx_dir, payload) if ciphered else payload
        if count < _COUNT_LIMIT:
            self._rx_next = count + 1
        self._last_rx_count = count
        if ciphered:
            self.ciphering_in_use = True
        return _unprotected(body, sht, sqn, count, verified, ciphered)


def _slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[object, object], None], ...]:
    return tuple(cls.__dict__[n].__set__ for n in names)


_U_SET = _slot_setters(UnprotectedNas, tuple(UnprotectedNas.__dataclass_fields__))


def _unprotected(
    message: bytes, sht: SecurityHeaderType, sqn: int, count: int, verified: bool, ciphered: bool
) -> UnprotectedNas:
    """``UnprotectedNas(...)`` through its slot descriptors: the frozen dataclass ``__init__``
    (one ``object.__setattr__`` per field) costs ~2.5x as much, once per received message."""
    u = object.__new__(UnprotectedNas)
    s0, s1, s2, s3, s4, s5 = _U_SET
    s0(u, message)
    s1(u, sht)
    s2(u, sqn)
    s3(u, count)
    s4(u, verified)
    s5(u, ciphered)
    return u


_SHT_BY_VALUE = tuple(SecurityHeaderType)
_SHT_CIPHERED = SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED
_SHT_CIPHERED_NEW = SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED_WITH_NEW_CONTEXT
# octets 1-2 of a protected message per security header type (TS 24.501 §9.1.1)
_OUTER = {sht: bytes((EPD_5GMM, sht)) for sht in SecurityHeaderType}
_OCTET = tuple(bytes((i,)) for i in range(256))
