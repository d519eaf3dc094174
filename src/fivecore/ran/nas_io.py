"""The simulated UE's bridge to the NAS codec and NAS security (TS 24.501 §8, §9, §4.4).

Mirror image of ``fivecore.nf.amf.nas_io`` (the simulator never imports the core): uplink
messages are built here, downlink ones reduced to a :class:`Downlink` view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache, lru_cache
from typing import Any

from fivecore.security import kdf
from fivecore.security.nas_algorithms import nea
from fivecore.security.nas_context import NasSecurityContext, Role, SecurityHeaderType
from fivecore.security.suci import SuciIdentity
from fivecore.wire.errors import DecodeError
from fivecore.wire.nas import codec
from fivecore.wire.nas.codec import NasMessage
from fivecore.wire.nas.ies import (
    DeregistrationType,
    MobileIdentity,
    NgKsi,
    PsiBitmap,
    RegistrationType,
    SNssai,
    UeSecurityCapability,
)
from fivecore.wire.template import TemplateCache

EPD_5GMM = 0x7E

#: the UE stores its 5G-GUTI as the codec's mobile identity (hashable, frozen)
Guti = MobileIdentity

#: TS 24.501 §4.4.4.2: downlink messages a UE processes without integrity protection
DL_UNPROTECTED_OK = frozenset(
    {
        "IdentityRequest",
        "AuthenticationRequest",
        "AuthenticationResult",
        "AuthenticationReject",
        "RegistrationReject",
        "DeregistrationAcceptUEOriginating",
        "ServiceReject",
    }
)


class NasInvalid(Exception):
    """A downlink NAS message the UE cannot use."""


_NO_CAUSES: dict[int, int] = {}


class Downlink:
    """A decoded downlink 5GMM message, reduced to what the UE's procedures read."""

    __slots__ = (
        "message_type",
        "ngksi",
        "abba",
        "rand",
        "autn",
        "integrity",
        "ciphering",
        "replayed_nea",
        "replayed_nia",
        "rinmr",
        "imeisv_requested",
        "identity_type",
        "guti",
        "allowed_nssai",
        "tais",
        "t3512",
        "cause",
        "t3346",
        "ack_requested",
        "eap",
        # DL NAS Transport (issue 7: 5GSM)
        "payload_container_type",
        "payload_container",
        "pdu_session_id",
        # Registration Accept, Service Accept: TS 24.501 §9.11.3.44 PDU session status
        "pdu_session_status",
        # ... and §9.11.3.42 / §9.11.3.43 PDU session reactivation result (and error cause)
        "reactivation_failed",
        "reactivation_causes",
    )

    def __init__(self, message_type: str) -> None:
        self.message_type = message_type
        self.ngksi = 7
        self.abba: bytes | None = None
        self.rand: bytes | None = None
        self.autn: bytes | None = None
        self.integrity = 0
        self.ciphering = 0
        self.replayed_nea: tuple[int, ...] = ()
        self.replayed_nia: tuple[int, ...] = ()
        self.rinmr = False
        self.imeisv_requested = False
        self.identity_type = 0
        self.guti: MobileIdentity | None = None
        self.allowed_nssai: list[tuple[int, int | None]] | None = None
        self.tais: list[tuple[str, int]] | None = None
        self.t3512: int | None = None
        self.cause = 0
        #: TS 24.501 §5.3.9 back-off (s) of a #22 congestion reject, None when absent
        self.t3346: int | None = None
        self.ack_requested = False
        self.eap: bytes | None = None
        self.payload_container_type = 0
        self.payload_container: bytes | None = None
        self.pdu_session_id: int | None = None
        #: the PSIs the network holds as active, None when the IE is absent
        self.pdu_session_status: frozenset[int] | None = None
        #: PSIs whose user plane was asked for and does not come back (None: IE absent)
        self.reactivation_failed: frozenset[int] | None = None
        #: PSI -> 5GMM cause of the reactivation result error cause IE (shared when empty:
        #: replaced, never mutated)
        self.reactivation_causes: dict[int, int] = _NO_CAUSES


def _reactivation(d: Downlink, ies: Any) -> None:
    """TS 24.501 §9.11.3.42 / §9.11.3.43 into the view; a malformed error cause (odd length,
    PSI 0) reads as no causes: the result bitmap alone says what failed."""
    rr = ies.get("pdu_session_reactivation_result")
    d.reactivation_failed = frozenset(p for p in rr.psis if p) if rr is not None else None
    raw = ies.get("pdu_session_reactivation_result_error_cause")
    if raw and len(raw) % 2 == 0 and all(1 <= raw[i] <= 15 for i in range(0, len(raw), 2)):
        d.reactivation_causes = {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)}


def split_security_header(pdu: bytes) -> tuple[int, bytes | None]:
    """TS 24.501 §9.1.1: security header type and, if not ciphered, the inner message."""
    if len(pdu) < 3 or pdu[0] != EPD_5GMM:
        raise NasInvalid("not a 5GMM message")
    sht = pdu[1] & 0x0F
    if sht == 0:
        return 0, pdu
    if sht > 4 or len(pdu) < 10:
        raise NasInvalid("bad security header")
    if sht in (1, 3):
        return sht, pdu[7:]
    return sht, None


#: TS 24.501 §8.2.25: a network sends the same Security Mode Command octets (algorithms,
#: ngKSI, replayed capabilities, requests) to every UE of a profile; the views of the last
#: few, by octets (read-only: the UE never changes a Downlink)
_SMC_VIEWS: dict[bytes, Downlink] = {}
_SMC = 0x5D


def decode_downlink(plain: bytes) -> Downlink:
    """Decode a plain downlink 5GMM message (TS 24.501 §8.2)."""
    if len(plain) > 2 and plain[2] == _SMC and plain[1] == 0:
        d = _SMC_VIEWS.get(plain)
        if d is None:
            d = _decode_downlink(plain)
            if len(_SMC_VIEWS) >= 64:
                _SMC_VIEWS.clear()
            _SMC_VIEWS[bytes(plain)] = d
        return d
    return _decode_downlink(plain)


def _decode_downlink(plain: bytes) -> Downlink:
    try:
        msg = codec.decode(plain)
    except DecodeError as exc:
        raise NasInvalid(str(exc)) from None
    if not isinstance(msg, NasMessage):
        raise NasInvalid("nested security header")
    t = msg.message_type
    d = Downlink(t)
    ies = msg.ies
    try:
        if t == "AuthenticationRequest":
            d.ngksi = ies["ngksi"].ksi
            d.abba = ies["abba"]
            d.rand = ies.get("rand")
            d.autn = ies.get("autn")
            d.eap = ies.get("eap_message")
        elif t in ("AuthenticationResult", "AuthenticationReject"):
            d.eap = ies.get("eap_message")
            if t == "AuthenticationResult":
                d.ngksi = ies["ngksi"].ksi
                d.abba = ies.get("abba")
        elif t == "SecurityModeCommand":
            algs = ies["selected_nas_security_algorithms"]
            d.integrity, d.ciphering = algs.integrity, algs.ciphering
            d.ngksi = ies["ngksi"].ksi
            cap = ies["replayed_ue_security_capabilities"]
            d.replayed_nea = tuple(cap.nea_list)
            d.replayed_nia = tuple(cap.nia_list)
            extra = ies.get("additional_5g_security_information")
            d.rinmr = bool(extra and extra[0] & 0x02)
            d.imeisv_requested = bool(ies.get("imeisv_request", 0) & 1)
            d.eap = ies.get("eap_message")
            d.abba = ies.get("abba")
        elif t == "IdentityRequest":
            d.identity_type = ies["identity_type"] & 7
        elif t in ("RegistrationAccept", "ConfigurationUpdateCommand"):
            g = ies.get("guti")
            d.guti = g if g is not None and g.type == "guti" else None
            an = ies.get("allowed_nssai")
            d.allowed_nssai = [(s.sst, s.sd) for s in an] if an is not None else None
            tl = ies.get("tai_list")
            d.tais = [(t_.plmn, t_.tac) for t_ in tl.all()] if tl is not None else None
            t3512 = ies.get("t3512_value")
            d.t3512 = t3512.seconds if t3512 is not None else None
            cui = ies.get("configuration_update_indication")
            d.ack_requested = bool(cui and cui & 1)
            pss = ies.get("pdu_session_status")
            d.pdu_session_status = pss.psis if pss is not None else None
            _reactivation(d, ies)
        elif t == "ServiceAccept":
            pss = ies.get("pdu_session_status")
            d.pdu_session_status = pss.psis if pss is not None else None
            _reactivation(d, ies)
        elif t in ("RegistrationReject", "ServiceReject", "5GMMStatus"):
            d.cause = ies["cause"]
            t3346 = ies.get("t3346_value")
            d.t3346 = t3346.seconds if t3346 is not None else None
        elif t == "DeregistrationRequestUETerminated":
            d.cause = ies.get("cause") or 0
        elif t == "DLNASTransport":
            # TS 24.501 §8.2.11 (issue 7: the 5GSM payload goes to fivecore.ran.userplane)
            d.payload_container_type = ies["payload_container_type"]
            d.payload_container = ies["payload_container"]
            d.pdu_session_id = ies.get("pdu_session_id")
            d.cause = ies.get("cause") or 0
    except (KeyError, AttributeError) as exc:
        raise NasInvalid(f"missing mandatory IE {exc}") from None
    return d


# --- uplink building ---------------------------------------------------------------------------


def suci_identity(usim: Any) -> MobileIdentity:
    """TS 24.501 §9.11.3.4 / TS 33.501 §6.12.2: a fresh SUCI of ``usim`` (a
    :class:`fivecore.ran.usim.Usim`) as the 5GS mobile identity the NAS codec encodes; the
    same IE as :func:`_wire_identity` of ``usim.make_suci()``."""
    scheme = usim.protection_scheme
    out = usim.scheme_output()
    return MobileIdentity("suci", plmn=usim.mcc + usim.mnc, routing_indicator=usim.routing_indicator,
                          protection_scheme=scheme, hn_key_id=usim.hn_key_id if scheme else 0,
                          scheme_output=out)


def _wire_identity(ident: Any) -> MobileIdentity:
    if isinstance(ident, MobileIdentity):
        return ident
    if isinstance(ident, SuciIdentity):
        return MobileIdentity(
            "suci",
            plmn=ident.mcc + ident.mnc,
            routing_indicator=ident.routing_indicator,
            protection_scheme=ident.protection_scheme,
            hn_key_id=ident.hn_public_key_id,
            scheme_output=ident.scheme_output,
        )
    raise TypeError(f"cannot encode identity {ident!r}")


def _cleartext_ies(reg_type: int, follow_on: bool, ngksi: int, identity: Any, nea: tuple[int, ...],
                   nia: tuple[int, ...]) -> dict[str, Any]:
    """The IEs a Registration Request always carries in clear (TS 24.501 §4.4.6)."""
    return {
        "registration_type": RegistrationType(reg_type, follow_on),
        "ngksi": NgKsi(0, ngksi),
        "mobile_identity": _wire_identity(identity),
        "ue_security_capability": UeSecurityCapability.of(nea=nea, nia=nia),
    }


def registration_request(
    reg_type: int,
    follow_on: bool,
    ngksi: int,
    identity: Any,
    nea: tuple[int, ...],
    nia: tuple[int, ...],
    requested_nssai: list[tuple[int, int | None]] | None = None,
    nas_message_container: bytes | None = None,
    pdu_session_status: frozenset[int] | None = None,
    uplink_data_status: frozenset[int] | None = None,
) -> bytes:
    """TS 24.501 §8.2.6. Without ``requested_nssai`` this is the cleartext-IE form (§4.4.6),
    with ``nas_message_container`` the (ciphered) whole message riding in it;
    ``pdu_session_status``: the PDU sessions active in the UE, ``uplink_data_status``: those
    with uplink data waiting for their user plane (§5.5.1.3.2)."""
    ies = _cleartext_ies(reg_type, follow_on, ngksi, identity, nea, nia)
    if requested_nssai:
        ies["requested_nssai"] = tuple(SNssai(sst, sd) for sst, sd in requested_nssai)
    if uplink_data_status:
        ies["uplink_data_status"] = PsiBitmap(uplink_data_status)
    if pdu_session_status is not None:
        ies["pdu_session_status"] = PsiBitmap(pdu_session_status)
    if nas_message_container is not None:
        ies["nas_message_container"] = nas_message_container
    return codec.encode(NasMessage("RegistrationRequest", ies))


def registration_request_pair(
    reg_type: int,
    follow_on: bool,
    ngksi: int,
    identity: Any,
    nea: tuple[int, ...],
    nia: tuple[int, ...],
    requested_nssai: list[tuple[int, int | None]] | None = None,
) -> tuple[bytes, bytes]:
    """TS 24.501 §8.2.6 and §4.4.6: ``(whole message, its cleartext-IE form)`` of an initial
    registration without a security context, the same as two :func:`registration_request`
    calls (with and without ``requested_nssai``) but with the IEs built once.

    For a SUCI (the initial registration of every simulated UE) the octets around the
    scheme output are the same for all UEs of a profile: they come from cached octet
    templates (:mod:`fivecore.wire.template`) and only the fresh scheme output is joined in."""
    if isinstance(identity, MobileIdentity) and identity.type == "suci":
        out = identity.scheme_output
        key = (reg_type, follow_on, ngksi, nea, nia, tuple(requested_nssai or ()), identity.plmn,
               identity.supi_format, identity.routing_indicator, identity.protection_scheme,
               identity.hn_key_id)
        widths = (len(out),)

        def enc(i: int) -> Callable[[bytes], bytes]:
            return lambda o: _registration_request_pair(reg_type, follow_on, ngksi, replace(identity, scheme_output=o),
                                                        nea, nia, requested_nssai)[i]

        full = _TEMPLATES.octets_template((key, 0), widths, enc(0))
        clear = full if not requested_nssai else _TEMPLATES.octets_template((key, 1), widths, enc(1))
        if full is not None and clear is not None:
            return full.join(out), clear.join(out)
    return _registration_request_pair(reg_type, follow_on, ngksi, identity, nea, nia, requested_nssai)


#: the Registration Request, Authentication Response and Security Mode Complete templates; a
#: simulator has a handful of UE profiles, so few shapes
_TEMPLATES = TemplateCache(limit=256)


def _registration_request_pair(
    reg_type: int,
    follow_on: bool,
    ngksi: int,
    identity: Any,
    nea: tuple[int, ...],
    nia: tuple[int, ...],
    requested_nssai: list[tuple[int, int | None]] | None = None,
) -> tuple[bytes, bytes]:
    ies = _cleartext_ies(reg_type, follow_on, ngksi, identity, nea, nia)
    clear = codec.encode(NasMessage("RegistrationRequest", ies))
    if not requested_nssai:
        return clear, clear
    ies["requested_nssai"] = tuple(SNssai(sst, sd) for sst, sd in requested_nssai)
    return codec.encode(NasMessage("RegistrationRequest", ies)), clear


def deregistration_request(switch_off: bool, ngksi: int, identity: Any) -> bytes:
    """TS 24.501 §8.2.12: UE-originating De-registration Request (3GPP access)."""
    return codec.encode(
        NasMessage(
            "DeregistrationRequestUEOriginating",
            deregistration_type=DeregistrationType(switch_off, False, 1),
            ngksi=NgKsi(0, ngksi),
            mobile_identity=_wire_identity(identity),
        )
    )


def service_request(ngksi: int, service_type: int, guti: MobileIdentity,
                    uplink_data: frozenset[int] | None = None, active: frozenset[int] | None = None,
                    nas_message_container: bytes | None = None) -> bytes:
    """TS 24.501 §8.2.16: Service Request identified by the 5G-S-TMSI; ``uplink_data`` the
    PDU sessions with pending uplink data (Uplink data status, §9.11.3.57), ``active`` the UE's
    PDU sessions (PDU session status, §9.11.3.44); ``nas_message_container`` the (ciphered)
    whole message when those non-cleartext IEs go in it (§4.4.6)."""
    s_tmsi = MobileIdentity.s_tmsi(guti.amf_set_id, guti.amf_pointer, guti.tmsi)
    return codec.encode(NasMessage(
        "ServiceRequest", ngksi=NgKsi(0, ngksi), service_type=service_type, s_tmsi=s_tmsi,
        uplink_data_status=PsiBitmap(uplink_data) if uplink_data else None,
        pdu_session_status=PsiBitmap(active) if active is not None else None,
        nas_message_container=nas_message_container))


def authentication_response(res_star: bytes) -> bytes:
    """TS 24.501 §8.2.2, the RES* (§9.11.3.17) joined into a cached octet template."""
    return _TEMPLATES.join("auth_response", (res_star,), _authentication_response)


def _authentication_response(res_star: bytes) -> bytes:
    return codec.encode(NasMessage("AuthenticationResponse", res_star=res_star))


def authentication_response_eap(eap_message: bytes) -> bytes:
    """TS 24.501 §8.2.2 with the EAP message IE (EAP-based primary authentication, §5.4.1.2)."""
    return codec.encode(NasMessage("AuthenticationResponse", eap_message=eap_message))


def authentication_failure(cause: int, auts: bytes | None = None) -> bytes:
    """TS 24.501 §8.2.4 (AUTS in the Authentication failure parameter IE for cause #21)."""
    ies: dict[str, Any] = {"cause": cause}
    if auts is not None:
        ies["auth_failure_parameter"] = auts
    return codec.encode(NasMessage("AuthenticationFailure", ies))


def identity_response_suci(suci: SuciIdentity | MobileIdentity) -> bytes:
    """TS 24.501 §8.2.22."""
    return codec.encode(NasMessage("IdentityResponse", mobile_identity=_wire_identity(suci)))


def security_mode_complete(container: bytes | None, imeisv: str | None) -> bytes:
    """TS 24.501 §8.2.26 (NAS message container with the whole initial message, §4.4.6).

    With a container the octets around it depend only on its length and the IMEISV: a
    cached octet template per (IMEISV, length) joins it in (:mod:`fivecore.wire.template`)."""
    if container is not None:
        return _TEMPLATES.join(("smc", imeisv), (container,), lambda c: _security_mode_complete(c, imeisv))
    return _security_mode_complete(container, imeisv)


def _security_mode_complete(container: bytes | None, imeisv: str | None) -> bytes:
    ies: dict[str, Any] = {}
    if imeisv is not None:
        ies["imeisv"] = MobileIdentity.imeisv(imeisv)
    if container is not None:
        ies["nas_message_container"] = container
    return codec.encode(NasMessage("SecurityModeComplete", ies))


def security_mode_reject(cause: int) -> bytes:
    """TS 24.501 §8.2.27."""
    return codec.encode(NasMessage("SecurityModeReject", cause=cause))


@cache  # no IEs: the same octets every time
def registration_complete() -> bytes:
    """TS 24.501 §8.2.8."""
    return codec.encode(NasMessage("RegistrationComplete"))


def deregistration_accept_nw() -> bytes:
    """TS 24.501 §8.2.15: De-registration Accept (UE terminated de-registration)."""
    return codec.encode(NasMessage("DeregistrationAcceptUETerminated"))


def configuration_update_complete() -> bytes:
    """TS 24.501 §8.2.20."""
    return codec.encode(NasMessage("ConfigurationUpdateComplete"))


def gmm_status(cause: int) -> bytes:
    """TS 24.501 §8.2.29."""
    return codec.encode(NasMessage("5GMMStatus", cause=cause))


# --- NAS security ------------------------------------------------------------------------------


def new_security_context(kamf: bytes, ngksi: int, enc_alg: int, int_alg: int) -> NasSecurityContext:
    """The UE's native 5G NAS security context (TS 33.501 §6.7.2)."""
    return NasSecurityContext.from_kamf(Role.UE, kamf, int_alg=int_alg, enc_alg=enc_alg)


def unprotect(sec: NasSecurityContext, pdu: bytes) -> bytes:
    """Verify (and decipher) a downlink message; raises the security layer's errors."""
    return sec.unprotect(pdu).message


def cipher_initial_container(sec: NasSecurityContext, kamf: bytes, value: bytes) -> bytes:
    """TS 24.501 §4.4.6 / TS 33.501 §6.4.6 step 1: cipher the NAS message container value of an
    initial message with the current context, under the uplink NAS COUNT the message itself
    is about to be protected with (bearer = NAS connection id, direction 0); NEA0 is identity."""
    if sec.enc_alg == 0:
        return value
    k_enc, _ = kdf.nas_keys(kamf, sec.enc_alg, sec.int_alg)
    return nea(sec.enc_alg, k_enc, sec.ul_count, sec.nas_connection_id, 0, value)


_SHT = {int(t): t for t in SecurityHeaderType}


def protect_uplink(sec: NasSecurityContext | None, plain: bytes, sht: int = 2) -> tuple[bytes, int]:
    """Protect an uplink message with header type ``sht``; returns the PDU and its NAS COUNT.

    Initial NAS messages (Registration/Service/De-registration Request sent from idle) use
    type 1, integrity only, so an AMF without the context can still read the cleartext IEs
    (TS 24.501 §4.4.6); Security Mode Complete uses type 4 (new context, ciphered).
    """
    if sec is None:
        return plain, 0
    count = sec.ul_count
    return sec.protect(plain, _SHT.get(sht) or SecurityHeaderType(sht)), count


def ul_nas_transport(sm_pdu: bytes, psi: int, request_type: int | None = None, dnn: str | None = None,
                     snssai: tuple[int, int | None] | None = None) -> bytes:
    """TS 24.501 §8.2.10: UL NAS Transport carrying an N1 SM message (issue 7).

    A pure function of its arguments, cached: the plain message of a PDU Session
    Establishment Request is the same for every UE with the same PTI, DNN and slice (what
    differs per UE is the protection applied afterwards)."""
    return _ul_nas_transport(bytes(sm_pdu), psi, request_type, dnn, tuple(snssai) if snssai else None)


@lru_cache(maxsize=4096)
def _ul_nas_transport(sm_pdu: bytes, psi: int, request_type: int | None, dnn: str | None,
                      snssai: tuple[int, int | None] | None) -> bytes:
    return codec.encode(codec.MESSAGE_CLASSES["ULNASTransport"](
        payload_container_type=1, payload_container=sm_pdu, pdu_session_id=psi,
        request_type=request_type, s_nssai=SNssai(*snssai) if snssai else None, dnn=dnn))
