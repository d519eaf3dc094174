"""ngap.downlink_nas_transport writes the octets ngap.encode writes for the same PDU, for any
UE NGAP IDs and NAS PDU (fragmented ones too), and refuses what encode refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.wire import ngap
from fivecore.wire.errors import EncodeError


def _generic(amf: int, ran: int, nas: bytes) -> bytes:
    return ngap.encode(ngap.NgapPdu("DownlinkNASTransport", "initiating",
                                    {"AMF-UE-NGAP-ID": amf, "RAN-UE-NGAP-ID": ran, "NAS-PDU": nas}))


@settings(max_examples=400, deadline=None)
@given(amf=st.integers(0, 2**40 - 1), ran=st.integers(0, 2**32 - 1), nas=st.binary(max_size=300))
def test_same_octets_as_the_generic_encoder(amf: int, ran: int, nas: bytes) -> None:
    data = ngap.downlink_nas_transport(amf, ran, nas)
    assert data == _generic(amf, ran, nas)
    pdu = ngap.decode(data)
    assert (pdu["AMF-UE-NGAP-ID"], pdu["RAN-UE-NGAP-ID"], pdu["NAS-PDU"]) == (amf, ran, nas)


@pytest.mark.parametrize("size", [127, 128, 16383, 16384, 40000])
def test_long_nas_pdus_and_fragmented_lengths(size: int) -> None:
    nas = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert ngap.downlink_nas_transport(2**40 - 1, 0, nas) == _generic(2**40 - 1, 0, nas)


@pytest.mark.parametrize("amf, ran, nas", [(-1, 1, b"\x7e"), (2**40, 1, b"\x7e"), (1, 2**32, b"\x7e"),
                                           (1, "1", b"\x7e"), (1, 1, "nas")])
def test_refuses_what_encode_refuses(amf, ran, nas) -> None:
    with pytest.raises(EncodeError):
        _generic(amf, ran, nas)
    with pytest.raises(EncodeError):
        ngap.downlink_nas_transport(amf, ran, nas)


def test_a_bytearray_nas_pdu_takes_the_generic_path() -> None:
    assert ngap.downlink_nas_transport(7, 1, bytearray(b"\x7e\x00")) == _generic(7, 1, b"\x7e\x00")
