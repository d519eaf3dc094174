"""pcap writer framing (IPv4, UDP, SCTP CRC32c) and the ``fivecore decode`` command."""

from __future__ import annotations

import io
import json
import struct

import crc32c
import pytest
import typer
from typer.testing import CliRunner

from fivecore.cli import decode as decode_cli
from fivecore.obs.pcap import PcapWriter
from fivecore.wire import DecodeError, gtpu, nas, ngap, pfcp
from fivecore.wire.describe import decode_any, guess, parse_hex


def _records(raw: bytes) -> list[bytes]:
    magic, vmaj, vmin, _, _, snap, link = struct.unpack("<IHHiIII", raw[:24])
    assert (magic, vmaj, vmin, link) == (0xA1B2C3D4, 2, 4, 101)
    out, pos = [], 24
    while pos < len(raw):
        _, _, incl, orig = struct.unpack("<IIII", raw[pos:pos + 16])
        assert incl == orig
        out.append(raw[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    return out


def _ip_ok(pkt: bytes) -> None:
    hdr = pkt[:20]
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert s == 0xFFFF
    assert struct.unpack("!H", pkt[2:4])[0] == len(pkt)


def test_pcap_framing() -> None:
    buf = io.BytesIO()
    ng = ngap.encode(ngap.NgapPdu("ErrorIndication", ies={"Cause": ngap.cause("misc", "unspecified")}))
    pf = pfcp.encode(pfcp.PfcpMessage.build("HeartbeatRequest", seq=1, recovery_time_stamp=1))
    gt = gtpu.encap(5, b"\x45" + bytes(19), qfi=1)
    w = PcapWriter(buf)
    w.write_ngap(ng, ts=1.5)
    w.write_ngap(ng, src="127.0.0.5", dst="127.0.0.1", stream=1)
    w.write_pfcp(pf)
    w.write_gtpu(gt)
    w.close()
    assert w.count == 4
    recs = _records(buf.getvalue())
    s1, s2, u1, u2 = recs
    for r in recs:
        _ip_ok(r)
    assert s1[9] == 132 and u1[9] == 17
    sctp = s1[20:]
    sport, dport, tag = struct.unpack("!HHI", sctp[:8])
    assert (sport, dport) == (38412, 38412)
    zeroed = sctp[:8] + b"\0\0\0\0" + sctp[12:]
    assert struct.unpack("<I", sctp[8:12])[0] == crc32c.crc32c(zeroed)
    ctype, flags, clen, tsn, sid, ssn, ppid = struct.unpack("!BBHIHHI", sctp[12:28])
    assert (ctype, flags, clen, sid, ppid) == (0, 3, 16 + len(ng), 0, 60)
    assert sctp[28:28 + len(ng)] == ng
    assert struct.unpack("!HHI", s2[20:28])[2] != tag  # each direction has its receiver's tag
    assert u1[20:24] == struct.pack("!HH", 8805, 8805) and u1[28:] == pf
    assert u2[20:24] == struct.pack("!HH", 2152, 2152) and u2[28:] == gt


def test_parse_hex_and_guess() -> None:
    assert parse_hex("0x7e 00:41\n79") == bytes.fromhex("7e004179")
    with pytest.raises(DecodeError):
        parse_hex("7e0")
    with pytest.raises(DecodeError):
        parse_hex("zz")
    assert guess(b"\x7e")[0] == "nas" and guess(b"\x34")[0] == "gtpu"
    assert guess(b"\x21")[0] == "pfcp" and guess(b"\x00")[0] == "ngap"
    with pytest.raises(DecodeError):
        decode_any(b"\x99\x98\x97")
    with pytest.raises(DecodeError):
        decode_any(b"\x00", "smtp")


def _app() -> typer.Typer:
    app = typer.Typer()
    decode_cli.register(app)

    @app.callback()
    def _cb() -> None:
        pass

    return app


CASES = [
    ("nas", nas.encode(nas.SecurityProtectedNasMessage(2, b"\x01\x02\x03\x04", 1,
                                                       nas.encode(nas.RegistrationComplete()))),
     "RegistrationComplete"),
    ("ngap", ngap.encode(ngap.NgapPdu("DownlinkNASTransport", ies={
        "AMF-UE-NGAP-ID": 1, "RAN-UE-NGAP-ID": 2, "NAS-PDU": nas.encode(nas.IdentityRequest(identity_type=1))})),
     "IdentityRequest"),
    ("pfcp", pfcp.encode(pfcp.PfcpMessage.build("SessionDeletionRequest", seq=3, seid=0x77)), "SessionDeletionRequest"),
    ("gtpu", gtpu.build_echo_response(5, 2), "EchoResponse"),
]


@pytest.mark.parametrize("proto, data, word", CASES)
def test_cli_tree_and_json(proto: str, data: bytes, word: str) -> None:
    runner = CliRunner()
    spaced = " ".join(f"{b:02x}" for b in data)
    r = runner.invoke(_app(), ["decode", spaced])
    assert r.exit_code == 0, r.output
    assert word in r.output
    r = runner.invoke(_app(), ["decode", "--json", "-"], input=data.hex())
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["protocol"] == proto and doc["length"] == len(data)
    assert word in json.dumps(doc)
    r = runner.invoke(_app(), ["decode", "--proto", proto, "--json", data.hex()])
    assert json.loads(r.output)["protocol"] == proto


def test_cli_bad_input_is_one_clean_error() -> None:
    from fivecore.errors import FivecoreError

    r = CliRunner().invoke(_app(), ["decode", "99aa"])
    assert r.exit_code != 0 and isinstance(r.exception, FivecoreError)
    r = CliRunner().invoke(_app(), ["decode", ""])
    assert isinstance(r.exception, FivecoreError)
