"""What the SCTP e2e tests check on the wire: dumpcap on lo for one SCTP port, and tshark's
reading of the capture with CRC32c validation on (RFC 9260 §6.8, Appendix A). Not a test module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

TSHARK_CRC = "sctp.checksum:CRC 32c"  # `tshark -G defaultprefs`: None, Adler 32, CRC 32c, Automatic
HAVE_TSHARK = shutil.which("tshark") is not None and shutil.which("dumpcap") is not None
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark/dumpcap not installed")


def free_port() -> int:
    """A port number nobody on 127.0.0.1 uses right now (asked of the kernel through UDP)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Capture:
    """dumpcap on lo for one SCTP port: an independent record of what went on the wire."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-f", f"sctp port {port}", "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 15
        for line in self.proc.stderr:
            if line.startswith("File:") or time.monotonic() > deadline:
                break
        time.sleep(0.3)

    def stop(self) -> None:
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(10)


def tshark_check(path: Path) -> dict[str, int]:
    """Decode with CRC32c validation on: every checksum good, nothing malformed, no errors."""
    # Payloads are test bytes, not NGAP/XnAP: check SCTP only, do not dissect the ULP.
    base = ["tshark", "-n", "-r", str(path), "-o", TSHARK_CRC, "-o", "sctp.ulp_dissection:FALSE"]
    st = subprocess.run(base + ["-T", "fields", "-e", "sctp.checksum.status"],
                        capture_output=True, text=True, timeout=60, check=True).stdout.split()
    bad = subprocess.run(base + ["-Y", "_ws.malformed || _ws.expert.severity >= 8388608 || sctp.checksum.status != 1"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    chunks = subprocess.run(base + ["-T", "fields", "-e", "sctp.chunk_type"],
                            capture_output=True, text=True, timeout=60, check=True).stdout.split()
    ppids = subprocess.run(base + ["-T", "fields", "-e", "sctp.data_payload_proto_id"],
                           capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert bad == "", bad
    kinds: dict[str, int] = {}
    for line in chunks:
        for c in line.split(","):
            kinds[c] = kinds.get(c, 0) + 1
    for line in ppids:
        for pp in line.split(","):
            kinds[f"ppid_{pp}"] = kinds.get(f"ppid_{pp}", 0) + 1
    return {"packets": len(st), "good": st.count("1"), **{f"chunk_{k}": v for k, v in kinds.items()}}


def tshark_fields(path: Path, display: str, field: str) -> list[str]:
    """Every value of ``field`` in the packets matching ``display``, as tshark reads them."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-o", TSHARK_CRC, "-o", "sctp.ulp_dissection:FALSE",
                          "-Y", display, "-T", "fields", "-e", field],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [x for line in out.split() for x in line.split(",") if x]
