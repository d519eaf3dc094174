"""Audit log: append-only JSON lines, concurrent appends from several processes, replay."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from fivecore.trust import AuditLog, TrustPolicy, current_subjects, read_audit_log
from fivecore.trust.jsonl import MAX_LINE_BYTES, JsonlAppender, JsonlError


def test_decisions_are_recorded_with_who_what_rule(tmp_path: Path, policy: TrustPolicy) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=True, actor="nrf:1") as log:
        log.record_decision(policy.check_nf("nf-1", "AMF", "900003"), event="nf-register")
    with AuditLog(path, actor="amf:1") as log:
        log.record_decision(policy.check_gnb(("00101", 0x150, 22), "DRGF-1"), event="ng-setup")
        log.record_decision(policy.check_gnb(("00101", 0x250, 22), None), event="ng-setup")
    recs = read_audit_log(path).records
    assert [r["decision"] for r in recs] == ["refuse", "allow-restricted", "refuse"]
    assert [r["actor"] for r in recs] == ["nrf:1", "amf:1", "amf:1"]
    assert [r["event"] for r in recs] == ["nf-register", "ng-setup", "ng-setup"]
    assert recs[0]["rule"] == "zones.core.risk_classes.high-risk" and recs[0]["http_status"] == 403
    assert recs[1]["restricted_profile"] == "untrusted-ran" and recs[1]["vendor"] == "dragonfly"
    assert recs[2]["ngap_cause"] == ["misc", "unspecified"] and recs[2]["vendor"] == "shadowline"
    for r in recs:
        assert r["v"] == 1 and r["ts"].endswith("Z") and r["reason"]


def test_append_only_preserves_existing_bytes(tmp_path: Path, policy: TrustPolicy) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"pre":"existing"}\n')
    before = path.read_bytes()
    log = AuditLog(path, fsync=False)
    log.record_decision(policy.check_nf("a", "AMF", "900001"), event="nf-register")
    # Another writer appends meanwhile; our next record lands after it, not over it.
    with path.open("ab") as fh:
        fh.write(b'{"other":"writer"}\n')
    log.record_decision(policy.check_nf("b", "AMF", "900001"), event="nf-register")
    log.close()
    data = path.read_bytes()
    assert data.startswith(before)
    lines = data.decode().splitlines()
    assert json.loads(lines[2]) == {"other": "writer"}
    assert json.loads(lines[3])["subject"] == "b"
    # The descriptor really is O_APPEND (a seek cannot make it overwrite).
    app = JsonlAppender(path, fsync=False)
    fd = app._open()
    assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND
    os.lseek(fd, 0, os.SEEK_SET)
    app.append({"after": "seek"})
    app.close()
    assert path.read_bytes().startswith(data)


def test_newlines_in_fields_cannot_forge_lines(tmp_path: Path, policy: TrustPolicy) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False) as log:
        d = policy.check_gnb(("00101", 0x3000, 22), 'x"}\n{"decision":"allow","subject":"forged"')
        log.record_decision(d, event="ng-setup")
    recs = read_audit_log(path).records
    assert len(recs) == 1 and recs[0]["decision"] == "quarantine"


def test_oversized_record_rejected(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl", fsync=False) as log, pytest.raises(JsonlError):
        log.append({"big": "x" * MAX_LINE_BYTES})
    assert read_audit_log(tmp_path / "a.jsonl").records == []


def test_reader_skips_torn_and_garbage_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"a":1}\nnot json\n[1,2]\n\n{"b":2}\n{"torn":')
    c = read_audit_log(path)
    assert c.records == [{"a": 1}, {"b": 2}]
    assert c.malformed_lines == [2, 3, 6]


def test_missing_log_reads_empty(tmp_path: Path) -> None:
    c = read_audit_log(tmp_path / "none.jsonl")
    assert c.records == [] and c.malformed_lines == []


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("file, not a dir")
    with pytest.raises(JsonlError, match="cannot open for append"):
        AuditLog(tmp_path / "f" / "audit.jsonl").append({"x": 1})


def _writer(path: str, proc: int, count: int) -> None:
    log = AuditLog(path, fsync=False, actor=f"p{proc}")
    pad = "y" * (300 + 97 * proc)  # lines of different lengths, several beyond PIPE_BUF/8
    for i in range(count):
        log.append({"proc": proc, "i": i, "pad": pad})
    log.close()


def test_concurrent_appends_from_processes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    procs, count = 4, 300
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(path), p, count)) for p in range(procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    c = read_audit_log(path)
    assert c.malformed_lines == []
    seen = {(r["proc"], r["i"]) for r in c.records}
    assert len(c.records) == procs * count
    assert seen == {(p, i) for p in range(procs) for i in range(count)}
    # Each process's records stay in its own order.
    for p in range(procs):
        assert [r["i"] for r in c.records if r["proc"] == p] == list(range(count))


def test_replay_current_subjects(tmp_path: Path, policy: TrustPolicy) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=False) as log:
        d1 = policy.check_gnb(("00101", 0x150, 22), None)
        d2 = policy.check_gnb(("00101", 0x10, 22), None)
        log.record_decision(d1, event="ng-setup")
        log.record_decision(d2, event="ng-setup")
        log.record_decision(policy.check_gnb(("00101", 0x250, 22), None), event="ng-setup")
        log.record_decision(policy.check_gnb(("00101", 0x3000, 22), None), event="ng-setup")
        log.record_decision(policy.check_nf("nf-a", "AMF", "900001"), event="nf-register")
        log.record_removal(subject_kind="gnb", subject=d2.subject, reason="N2 association lost")
    serving = current_subjects(read_audit_log(path).records)
    assert sorted((s.subject_kind, s.subject, s.vendor) for s in serving) == [
        ("gnb", "gnb:00101:0x150/22", "dragonfly"),
        ("nf", "nf-a", "aurora"),
    ]
