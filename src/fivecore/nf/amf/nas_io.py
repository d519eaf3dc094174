"""The AMF's bridge to the NAS codec and NAS security (TS 24.501 §8, §9, §4.4).

:mod:`fivecore.nf.amf.gmm` sees small typed views (:class:`Uplink`, :class:`Guti`,
:class:`STmsi`, :class:`fivecore.security.suci.SuciIdentity`) and bytes; everything that knows
the codec's message classes or the security context's methods is here, so the procedures read
like the spec and a codec change touches one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fivecore.security import kdf
from fivecore.security.nas_algorithms import nea
from fivecore.security.nas_context import NasSecurityContext, Role, SecurityHeaderType
from fivecore.security.suci import SuciIdentity
from fivecore.wire.errors import DecodeError, EncodeError
from fivecore.wire.nas import codec
from fivecore.wire.nas.codec import NasMessage
from fivecore.wire.nas.ies import (
    DeregistrationType,
    GprsTimer2,
    GprsTimer3,
    MobileIdentity,
    NasSecurityAlgorithms,
    NgKsi,
    PsiBitmap,
    RegistrationResult,
    SNssai,
    Tai,
    TaiList,
    UeSecurityCapability,
)
from fivecore.wire.template import TemplateCache

EPD_5GMM = 0x7E


class NasInvalid(Exception):
    """An uplink NAS message the network cannot use; ``cause`` is the 5GMM STATUS cause.

    TS 24.501 §7: #96 invalid mandatory information, #97 message type non-existent.
    """

    def __init__(self, cause: int, reason: str = "") -> None:
        super().__init__(reason or f"5GMM cause {cause}")
        self.cause = cause


@dataclass(slots=True, frozen=True)
class Guti:
    """5G-GUTI (TS 23.003 §2.10.1)."""

    mcc: str
    mnc: str
    region_id: int
    set_id: int
    pointer: int
    tmsi: int


@dataclass(slots=True, frozen=True)
class STmsi:
    """5G-S-TMSI (TS 23.003 §2.11)."""

    set_id: int
    pointer: int
    tmsi: int


class Uplink:
    """A decoded uplink 5GMM message, reduced to what the AMF's procedures read."""

    __slots__ = (
        "message_type",
        "reg_type",
        "follow_on",
        "ngksi",
        "identity",
        "ue_sec_cap",
        "requested_nssai",
        "res_star",
        "cause",
        "auts",
        "container",
        "switch_off",
        "service_type",
        "imeisv",
        "eap",
        "raw",
    )

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type
        self.reg_type = 0
        self.follow_on = False
        self.ngksi = 7
        self.identity: Any = None
        self.ue_sec_cap: UeSecurityCapability | None = None
        self.requested_nssai: list[tuple[int, int | None]] | None = None
        self.res_star: bytes | None = None
        self.cause = 0
        self.auts: bytes | None = None
        self.container: bytes | None = None
        self.switch_off = False
        self.service_type = 0
        self.imeisv: str | None = None
        self.eap: bytes | None = None
        self.raw: NasMessage | None = None


# --- identities ------------------------------------------------------------------------------


def identity_from_wire(mi: MobileIdentity | None) -> Any:
    """TS 24.501 §9.11.3.4 -> SuciIdentity | Guti | STmsi | str (IMEI/IMEISV) | None."""
    if mi is None:
        return None
    t = mi.type
    if t == "suci":
        if mi.supi_format != 0:
            return None
        try:
            return SuciIdentity(
                0,
                mi.plmn[:3],
                mi.plmn[3:],
                mi.routing_indicator,
                mi.protection_scheme,
                mi.hn_key_id,
                mi.scheme_output,
            )
        except ValueError:
            raise NasInvalid(96, "unusable SUCI") from None
    if t == "guti":
        return Guti(mi.plmn[:3], mi.plmn[3:], mi.amf_region_id, mi.amf_set_id, mi.amf_pointer, mi.tmsi)
    if t == "s-tmsi":
        return STmsi(mi.amf_set_id, mi.amf_pointer, mi.tmsi)
    if t in ("imei", "imeisv"):
        return mi.digits
    return None


def identity_to_wire(ident: Any) -> MobileIdentity:
    if isinstance(ident, Guti):
        return MobileIdentity.guti(ident.mcc + ident.mnc, ident.region_id, ident.set_id, ident.pointer, ident.tmsi)
    if isinstance(ident, STmsi):
        return MobileIdentity.s_tmsi(ident.set_id, ident.pointer, ident.tmsi)
    raise TypeError(f"cannot encode identity {ident!r}")


def _nssai_list(v: Any) -> list[tuple[int, int | None]] | None:
    if v is None:
        return None
    return [(s.sst, s.sd) for s in v]


# --- uplink decoding ---------------------------------------------------------------------------


def split_security_header(pdu: bytes) -> tuple[int, bytes | None]:
    """TS 24.501 §9.1.1: security header type and, if not ciphered, the plain inner message."""
    if len(pdu) < 3 or pdu[0] != EPD_5GMM:
        if len(pdu) >= 3 and pdu[0] == 0x2E:
            raise NasInvalid(97, "5GSM message outside a transport container")
        raise NasInvalid(96, "not a 5GMM message")
    sht = pdu[1] & 0x0F
    if sht == 0:
        return 0, pdu
    if sht > 4 or len(pdu) < 10:
        raise NasInvalid(96, "bad security header")
    if sht in (1, 3):
        return sht, pdu[7:]
    return sht, None


def decode_uplink(plain: bytes) -> Uplink:
    """Decode a plain uplink 5GMM message (TS 24.501 §8.2) into an :class:`Uplink` view."""
    try:
        msg = codec.decode(plain)
    except DecodeError as exc:
        if len(plain) >= 3 and plain[0] == EPD_5GMM and plain[1] & 0x0F == 0 and "unknown" in str(exc).lower():
            raise NasInvalid(97, str(exc)) from None
        raise NasInvalid(96, str(exc)) from None
    if not isinstance(msg, NasMessage):
        raise NasInvalid(96, "nested security header")
    t = msg.message_type
    up = Uplink(t)
    up.raw = msg
    ies = msg.ies
    try:
        if t == "RegistrationRequest":
            rt = ies["registration_type"]
            up.reg_type = rt.value
            up.follow_on = rt.follow_on
            up.ngksi = ies["ngksi"].ksi
            up.identity = identity_from_wire(ies["mobile_identity"])
            up.ue_sec_cap = ies.get("ue_security_capability")
            up.requested_nssai = _nssai_list(ies.get("requested_nssai"))
            up.container = ies.get("nas_message_container")
        elif t == "AuthenticationResponse":
            up.res_star = ies.get("res_star")
            up.eap = ies.get("eap_message")
        elif t == "AuthenticationFailure":
            up.cause = ies["cause"]
            afp = ies.get("auth_failure_parameter")
            up.auts = afp if afp and len(afp) == 14 else None
        elif t == "IdentityResponse":
            up.identity = identity_from_wire(ies["mobile_identity"])
        elif t == "SecurityModeComplete":
            up.container = ies.get("nas_message_container")
            imeisv = ies.get("imeisv")
            up.imeisv = imeisv.digits if imeisv is not None else None
        elif t in ("SecurityModeReject", "5GMMStatus"):
            up.cause = ies["cause"]
        elif t == "DeregistrationRequestUEOriginating":
            dt = ies["deregistration_type"]
            up.switch_off = dt.switch_off
            up.ngksi = ies["ngksi"].ksi
            up.identity = identity_from_wire(ies["mobile_identity"])
        elif t == "ServiceRequest":
            up.ngksi = ies["ngksi"].ksi
            up.service_type = ies["service_type"]
            up.identity = identity_from_wire(ies["s_tmsi"])
            up.container = ies.get("nas_message_container")
    except KeyError as exc:
        raise NasInvalid(96, f"missing mandatory IE {exc}") from None
    return up


def ue_security_capability_sets(cap: UeSecurityCapability) -> tuple[frozenset[int], frozenset[int]]:
    """TS 24.501 §9.11.3.54: (NEA set, NIA set) the UE supports."""
    if not isinstance(cap, UeSecurityCapability):
        raise NasInvalid(96, "UE security capability missing")
    return frozenset(cap.nea_list), frozenset(cap.nia_list)


# --- downlink building (TS 24.501 §8.2) -----------------------------------------------------


def _enc(msg: NasMessage) -> bytes:
    try:
        return codec.encode(msg)
    except EncodeError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # pragma: no cover - programming error
        raise EncodeError(str(exc)) from exc


def authentication_request(ngksi: int, abba: bytes, rand: bytes | None, autn: bytes | None,
                           eap: bytes | None = None) -> bytes:
    """TS 24.501 §8.2.1: Authentication Request (RAND/AUTN for 5G-AKA, EAP message for EAP-AKA').

    The 5G-AKA one is RAND and AUTN written into a template per ngKSI and ABBA (see
    :mod:`fivecore.wire.template`; the IE-by-IE encoding is the reference)."""
    if eap is not None:
        return _enc(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, ngksi), abba=abba, eap_message=eap))
    if type(rand) is bytes and type(autn) is bytes and type(abba) is bytes:

        def build(v: dict[str, Any]) -> bytes:
            return _enc(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, ngksi), abba=abba,
                                   rand=v["rand"], autn=v["autn"]))

        t = _TEMPLATES.get(("auth", ngksi, abba), build, _AUTH_FIELDS)
        if t is not None:
            try:
                return t.fill({"rand": rand, "autn": autn})
            except (OverflowError, OSError, TypeError):
                pass  # not 16 octets each: the encoder says what is wrong
    return _enc(NasMessage("AuthenticationRequest", ngksi=NgKsi(0, ngksi), abba=abba, rand=rand, autn=autn))


_TEMPLATES = TemplateCache()
_AUTH_FIELDS = {"rand": ("bytes", 16), "autn": ("bytes", 16)}
_ACCEPT_FIELDS = {"tmsi": ("int", 4)}
#: Security Mode Commands by their arguments: the same few algorithm/capability combinations
#: recur for every UE
_SMC_MEMO: dict[tuple[Any, ...], bytes] = {}


def authentication_reject(eap: bytes | None = None) -> bytes:
    """TS 24.501 §8.2.5 (with EAP-Failure for EAP-based authentication)."""
    if eap is not None:
        return _enc(NasMessage("AuthenticationReject", eap_message=eap))
    return _enc(NasMessage("AuthenticationReject"))


def identity_request(identity_type: int) -> bytes:
    """TS 24.501 §8.2.21 (identity type 1 = SUCI, §9.11.3.3)."""
    return _enc(NasMessage("IdentityRequest", identity_type=identity_type))


def security_mode_command(
    integrity: int, ciphering: int, ngksi: int, cap: Any, *, rinmr: bool, imeisv_request: bool = False,
    eap: bytes | None = None,
) -> bytes:
    """TS 24.501 §8.2.25: selected algorithms, ngKSI, replayed UE security capabilities.

    ``rinmr`` sets "retransmission of initial NAS message requested" in the Additional 5G
    security information IE (§9.11.3.12).
    """
    key = None
    if eap is None:
        key = (integrity, ciphering, ngksi, cap, rinmr, imeisv_request)
        try:
            hit = _SMC_MEMO.get(key)
        except TypeError:  # an unhashable capability value: encoded every time
            hit = key = None
        if hit is not None:
            return hit
    ies: dict[str, Any] = {
        "selected_nas_security_algorithms": NasSecurityAlgorithms(ciphering, integrity),
        "ngksi": NgKsi(0, ngksi),
        "replayed_ue_security_capabilities": cap,
    }
    if imeisv_request:
        ies["imeisv_request"] = 1
    if rinmr:
        ies["additional_5g_security_information"] = b"\x02"
    if eap is not None:
        # TS 24.501 §5.4.2.2: EAP-Success and ABBA ride in the Security Mode Command
        ies["eap_message"] = eap
        ies["abba"] = b"\x00\x00"
    data = _enc(NasMessage("SecurityModeCommand", ies))
    if key is not None:
        if len(_SMC_MEMO) >= 1024:
            _SMC_MEMO.clear()
        _SMC_MEMO[key] = data
    return data


def registration_accept(
    *, guti: Guti, tais: list[tuple[str, str, int]], allowed_nssai: list[tuple[int, int | None]], t3512: int,
    pdu_session_status: frozenset[int] | None = None, reactivation_failed: frozenset[int] | None = None,
) -> bytes:
    """TS 24.501 §8.2.7: result (3GPP access), 5G-GUTI, TAI list, allowed NSSAI, T3512, and the
    PDU session status when the UE sent its own (§5.5.1.3.4); ``reactivation_failed``: the
    PDU session reactivation result of an update with Uplink data status (the PSIs whose
    user plane does not come back, §9.11.3.42).

    Per UE only the 5G-TMSI differs: it is written into a template of the rest (see
    :mod:`fivecore.wire.template`; :func:`_registration_accept` is the reference)."""
    if pdu_session_status is not None or reactivation_failed is not None:
        # mobility / periodic updates only: not worth a template
        return _registration_accept(guti=guti, tais=tais, allowed_nssai=allowed_nssai, t3512=t3512,
                                    pdu_session_status=pdu_session_status,
                                    reactivation_failed=reactivation_failed)
    try:
        key = ("accept", guti.mcc, guti.mnc, guti.region_id, guti.set_id, guti.pointer, tuple(tais),
               tuple(allowed_nssai), t3512)
        hash(key)
    except TypeError:
        return _registration_accept(guti=guti, tais=tais, allowed_nssai=allowed_nssai, t3512=t3512)

    def build(v: dict[str, Any]) -> bytes:
        g = Guti(guti.mcc, guti.mnc, guti.region_id, guti.set_id, guti.pointer, v["tmsi"])
        return _registration_accept(guti=g, tais=tais, allowed_nssai=allowed_nssai, t3512=t3512)

    t = _TEMPLATES.get(key, build, _ACCEPT_FIELDS)
    if t is not None:
        try:
            return t.fill({"tmsi": guti.tmsi})
        except (OverflowError, OSError, TypeError):
            pass  # the encoder says what is wrong
    return _registration_accept(guti=guti, tais=tais, allowed_nssai=allowed_nssai, t3512=t3512)


def _registration_accept(
    *, guti: Guti, tais: list[tuple[str, str, int]], allowed_nssai: list[tuple[int, int | None]], t3512: int,
    pdu_session_status: frozenset[int] | None = None, reactivation_failed: frozenset[int] | None = None,
) -> bytes:
    ies: dict[str, Any] = {
        "registration_result": RegistrationResult(1),
        "guti": identity_to_wire(guti),
        "tai_list": TaiList.of(*(Tai(mcc + mnc, tac) for mcc, mnc, tac in tais)),
        "allowed_nssai": tuple(SNssai(sst, sd) for sst, sd in allowed_nssai),
        "t3512_value": GprsTimer3.from_seconds(t3512),
    }
    if pdu_session_status is not None:
        ies["pdu_session_status"] = PsiBitmap(pdu_session_status)
    if reactivation_failed is not None:
        ies["pdu_session_reactivation_result"] = PsiBitmap(reactivation_failed)
    return _enc(NasMessage("RegistrationAccept", ies))


def reactivation_error_cause(causes: dict[int, int]) -> bytes:
    """TS 24.501 §9.11.3.43 PDU session reactivation result error cause: (PSI, 5GMM cause)
    octet pairs, in PSI order."""
    out = bytearray()
    for psi in sorted(causes):
        if not 1 <= psi <= 15 or not 0 <= causes[psi] <= 255:
            raise EncodeError(f"bad reactivation error cause {psi}: {causes[psi]}")
        out += bytes((psi, causes[psi]))
    return bytes(out)


def with_reactivation_result(plain: bytes, status: frozenset[int], failed: frozenset[int],
                             causes: dict[int, int] | None = None) -> bytes:
    """A Registration Accept or Service Accept (``plain``, as built before the SMFs answered)
    with the outcome of the user-plane reactivation: the PDU session status (TS 24.501
    §5.5.1.3.4 / §5.6.1.4.1), the PDU session reactivation result (§9.11.3.42: a set bit is a
    session whose user plane was asked for and does not come back; no bit set when all came
    back) and, for the failures
    with a cause the spec names (§5.5.1.3.4 a-f), the reactivation result error cause."""
    try:
        msg = codec.decode(plain)
    except DecodeError as exc:
        raise EncodeError(f"accept to amend does not decode: {exc}") from None
    if not isinstance(msg, NasMessage) or msg.message_type not in ("RegistrationAccept", "ServiceAccept"):
        raise EncodeError("not a Registration Accept or Service Accept")
    ies = dict(msg.ies)
    ies["pdu_session_status"] = PsiBitmap(status)
    ies.pop("pdu_session_reactivation_result", None)
    ies.pop("pdu_session_reactivation_result_error_cause", None)
    # §5.5.1.3.4 b 2 / §5.6.1.4.1: present whenever user planes were asked for, all bits
    # clear when every one came back
    ies["pdu_session_reactivation_result"] = PsiBitmap(failed)
    kept = {p: c for p, c in (causes or {}).items() if p in failed}
    if kept:
        ies["pdu_session_reactivation_result_error_cause"] = reactivation_error_cause(kept)
    # a new message, so the IEs are written in the order of the spec's table (TS 24.501 §8.2.7)
    return _enc(NasMessage(msg.message_type, ies))


def configuration_update_command(guti: Guti | None, ack_requested: bool = True) -> bytes:
    """TS 24.501 §8.2.19: Configuration Update Command (here: 5G-GUTI reallocation, §5.4.4)."""
    ies: dict[str, Any] = {"configuration_update_indication": 0x01 if ack_requested else 0}
    if guti is not None:
        ies["guti"] = identity_to_wire(guti)
    return _enc(NasMessage("ConfigurationUpdateCommand", ies))


def gprs_timer2(seconds: int) -> GprsTimer2:
    """TS 24.008 §10.5.7.4: the shortest GPRS timer 2 value not below ``seconds`` (2 s, 1 min
    and 6 min units; longer than 186 min is capped there)."""
    for unit, mult in ((0, 2), (1, 60), (2, 360)):
        n = -(-max(0, seconds) // mult)
        if n < 32:
            return GprsTimer2(unit, n)
    return GprsTimer2(2, 31)


def registration_reject(cause: int, t3346: int | None = None) -> bytes:
    """TS 24.501 §8.2.9 (with the T3346 back-off value for cause #22, §5.5.1.2.5)."""
    if t3346 is not None:
        return _enc(NasMessage("RegistrationReject", cause=cause, t3346_value=gprs_timer2(t3346)))
    return _enc(NasMessage("RegistrationReject", cause=cause))


def deregistration_accept() -> bytes:
    """TS 24.501 §8.2.13: De-registration Accept (UE originating de-registration)."""
    return _enc(NasMessage("DeregistrationAcceptUEOriginating"))


def deregistration_request_nw(reregistration_required: bool, cause: int | None) -> bytes:
    """TS 24.501 §8.2.14: network-initiated De-registration Request."""
    ies: dict[str, Any] = {"deregistration_type": DeregistrationType(False, reregistration_required, 1)}
    if cause is not None:
        ies["cause"] = cause
    return _enc(NasMessage("DeregistrationRequestUETerminated", ies))


def service_accept(pdu_session_status: frozenset[int] | None = None) -> bytes:
    """TS 24.501 §8.2.18, with the PDU session status when the UE sent its own (§5.6.1.4.1)."""
    if pdu_session_status is not None:
        return _enc(NasMessage("ServiceAccept", pdu_session_status=PsiBitmap(pdu_session_status)))
    return _enc(NasMessage("ServiceAccept"))


def service_reject(cause: int, t3346: int | None = None) -> bytes:
    """TS 24.501 §8.2.17 (with the T3346 back-off value for cause #22, §5.6.1.5)."""
    if t3346 is not None:
        return _enc(NasMessage("ServiceReject", cause=cause, t3346_value=gprs_timer2(t3346)))
    return _enc(NasMessage("ServiceReject", cause=cause))


def gmm_status(cause: int) -> bytes:
    """TS 24.501 §8.2.29: 5GMM STATUS."""
    return _enc(NasMessage("5GMMStatus", cause=cause))


# --- NAS security (TS 24.501 §4.4, via fivecore.security.nas_context) -------------------------


def new_security_context(kamf: bytes, ngksi: int, enc_alg: int, int_alg: int) -> NasSecurityContext:
    """A native 5G NAS security context on the network side (TS 33.501 §6.7.2).

    NIA0 is refused by the security layer itself; the ngKSI is kept in the UE context.
    """
    return NasSecurityContext.from_kamf(Role.NETWORK, kamf, int_alg=int_alg, enc_alg=enc_alg)


def protect(sec: NasSecurityContext, plain: bytes, new_context: bool = False) -> bytes:
    """TS 24.501 §4.4.3-4.4.5: protect a downlink message.

    Security Mode Command: integrity only, with the new context (header type 3); everything
    else integrity protected and ciphered (type 2).
    """
    if new_context:
        return sec.protect(plain, SecurityHeaderType.INTEGRITY_PROTECTED_WITH_NEW_CONTEXT)
    return sec.protect(plain, SecurityHeaderType.INTEGRITY_PROTECTED_AND_CIPHERED)


def unprotect(sec: NasSecurityContext, pdu: bytes) -> bytes:
    """Verify and decipher an uplink message; raises IntegrityError / ReplayError."""
    return sec.unprotect(pdu).message


def unprotect_initial(sec: NasSecurityContext, pdu: bytes) -> bytes:
    """Verify the first message of a new N1 signalling connection (TS 24.501 §4.4.6).

    Initial NAS messages are integrity protected but not ciphered, so the "ciphering in use"
    expectation of the old connection is dropped first; it is restored if the message does
    not verify, so a forged initial message cannot weaken the UE's current connection.
    """
    was = sec.ciphering_in_use
    sec.new_signalling_connection()
    try:
        return sec.unprotect(pdu).message
    except Exception:
        sec.ciphering_in_use = was
        raise


def decipher_initial_container(sec: NasSecurityContext, kamf: bytes, value: bytes) -> bytes:
    """TS 24.501 §4.4.6: the NAS message container value of a verified initial message is
    ciphered with the current context (TS 33.501 §6.4.6 step 1) under that message's uplink
    NAS COUNT, bearer = NAS connection id, direction 0. NEA0 leaves it as it is."""
    count = sec.last_ul_count
    if sec.enc_alg == 0 or count is None:
        return value
    k_enc, _ = kdf.nas_keys(kamf, sec.enc_alg, sec.int_alg)
    return nea(sec.enc_alg, k_enc, count, sec.nas_connection_id, 0, value)


def uplink_count(sec: NasSecurityContext) -> int:
    """The uplink NAS COUNT of the last verified uplink message (for KgNB, TS 33.501 A.9)."""
    c = sec.last_ul_count
    return 0 if c is None else c
