"""`fivecore audit --html` renders in headless Chromium: screenshot saved, no console errors.

The screenshot goes to ``test-artifacts/trust-audit-report.png`` at the repository root
(gitignored) for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from fivecore.trust import (
    AmfSecuritySettings,
    AuditLog,
    ExposureLedger,
    ExposureRecorder,
    TrustPolicy,
)

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "trust-policy.yaml"
ARTIFACTS = REPO / "test-artifacts"

_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR|VERBOSE\d*):CONSOLE[:(]|Uncaught|ERROR:CONSOLE")


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("chromium is not installed: run scripts/system-deps.sh (Debian package 'chromium')")
    return exe


def _chromium_run(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def console_messages(stderr: str) -> list[str]:
    """Lines where the page wrote to the console or threw (Chromium logs them as CONSOLE)."""
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def _png_info(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct byte values in the image data (blank page ~ few)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif ctype == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    return width, height, len(set(raw))


def _write_scenario(data_dir: Path) -> Path:
    policy = TrustPolicy.from_file(EXAMPLE)
    audit_path = data_dir / "trust-audit.jsonl"
    log = AuditLog(audit_path, fsync=False, actor="amf")
    rec = ExposureRecorder()
    ledger = ExposureLedger(data_dir)
    rec.amf_config(AmfSecuritySettings(integrity_order=(2, 0), ciphering_order=(0, 2), null_scheme_suci_accepted=True,
                                     guti_reallocation=False, imeisv_to_ran="full"))
    for nf, vid in (("AMF", "900001"), ("SMF", "900002"), ("UPF", "900001"), ("AUSF", "900003")):
        log.record_decision(policy.check_nf(f"nf-{nf.lower()}", nf, vid), event="nf-register", actor="nrf")
    gnbs = [("00101", 0x150, 22), ("00101", 0x151, 22), ("00101", 0x10, 22), ("00101", 0x250, 22), ("00101", 0x3000, 22)]
    for g in gnbs:
        d = policy.check_gnb(g, None)
        log.record_decision(d, event="ng-setup")
        if d.admitted:
            rec.gnb_admitted(d)
    for i in range(100):
        ue = ledger.ue_ref(f"imsi-001010000000{i:03d}")
        g = gnbs[0] if i < 50 else (gnbs[1] if i < 70 else gnbs[2])
        rec.registration(ue, g, identity="suci", suci_scheme="null" if i % 10 == 0 else "profile-a")
        rec.nas_security(ue, g, nea=0 if i % 9 == 0 else 2, nia=2)
        rec.kgnb_delivered(ue, g)
        rec.imeisv_sent(ue, g, masked=i % 2 == 0)
        rec.guti_assigned(ue, g, reallocated=i % 5 != 0)
        rec.pdu_session(ue, g, psi=1, up_integrity=i % 3 == 0, up_ciphering=True)
        if 40 <= i < 50:
            rec.handover(ue, g, gnbs[2], key_refresh=False)
    ledger.write(rec.drain())
    ledger.close()
    log.close()
    return audit_path


def test_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    """Control: the console check used below does see errors and console output."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); noSuchFn();</script></body></html>")
    res = _chromium_run(bad.as_uri(), tmp_path / "profile", f"--screenshot={tmp_path / 'bad.png'}", "--window-size=400,300")
    msgs = console_messages(res.stderr)
    assert any("boom" in m for m in msgs), res.stderr[-2000:]
    assert any("Uncaught" in m for m in msgs), res.stderr[-2000:]


def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    audit_path = _write_scenario(tmp_path)
    report = tmp_path / "trust-audit-report.html"
    cli = subprocess.run(
        [sys.executable, "-m", "fivecore.cli.main", "audit", "--data-dir", str(tmp_path), "--policy", str(EXAMPLE),
         "--audit-log", str(audit_path), "--html", str(report)],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )
    assert cli.returncode == 0, cli.stderr
    assert report.exists()

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "trust-audit-report.png"
    shot.unlink(missing_ok=True)
    shutil.copy(report, ARTIFACTS / "trust-audit-report.html")
    res = _chromium_run(report.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600")
    assert res.returncode == 0, res.stderr[-2000:]
    assert console_messages(res.stderr) == []
    width, height, distinct = _png_info(shot)
    assert (width, height) == (1200, 1600)
    assert distinct > 50, "screenshot looks blank"

    # Chromium parsed the page we wrote: its DOM has the sections, in reading order.
    dom = _chromium_run(report.as_uri(), tmp_path / "profile2", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    text = dom.stdout
    order = [text.find(f"<h{n}>{s}</h{n}>") for n, s in ((1, "RAN exposure audit"), (2, "Summary"),
                                                      (2, "Vendor diversity (SM05)"), (2, "Per vendor"),
                                                      (2, "Configuration findings"))]
    assert all(i >= 0 for i in order) and order == sorted(order), order
    assert "Dragonfly Radio" in text and "NEA0-PREFERRED" in text
