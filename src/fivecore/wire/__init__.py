"""Sans-I/O wire codecs: bytes <-> typed messages.

Sub-modules (import the one you need; each is independent):

* :mod:`fivecore.wire.nas` — NAS-5GS (TS 24.501) 5GMM and 5GSM messages, hand-written.
* :mod:`fivecore.wire.ngap` — NGAP (TS 38.413), APER through pycrate behind a plain-data API.
* :mod:`fivecore.wire.pfcp` — PFCP (TS 29.244), hand-written.
* :mod:`fivecore.wire.gtpu` — GTP-U (TS 29.281) + PDU Session Container (TS 38.415), datapath.

Every decoder raises :class:`DecodeError` (with ``offset`` and ``reason``) on bad input and
nothing else; encoders raise :class:`EncodeError`. See ``src/fivecore/wire/README.md``.
"""

from fivecore.wire.errors import DecodeError, EncodeError, WireError

__all__ = ["DecodeError", "EncodeError", "WireError"]
