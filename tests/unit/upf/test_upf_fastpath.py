"""The UPF's learned request shapes (fivecore.nf.upf.fastpath) answer exactly as the generic path.

Every test drives two PfcpNodes with the same datagrams: one with the fast path, one without
(the reference). Their answers must be the same octets and their contexts the same rules and
datapath entries, for the SMF's real requests, for requests with other per-session values, and
for corrupted copies of a learned shape.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import SmfContext
from fivecore.nf.upf import fastpath
from fivecore.nf.upf.context import UpfContext
from fivecore.nf.upf.pfcp_server import PfcpNode
from fivecore.wire import pfcp
from fivecore.wire.pfcp import FSeid, FTeid, Ies, NodeId, PfcpMessage

CP = ("127.0.0.4", 8805)


class Pair:
    """The same UPF twice: with the fast path and without."""

    def __init__(self) -> None:
        self.fast = PfcpNode(UpfContext("10.200.1.1"), "127.0.0.7", recovery_ts=7, now=0.0)
        self.ref = PfcpNode(UpfContext("10.200.1.1"), "127.0.0.7", recovery_ts=7, now=0.0,
                            fast_path=False)
        self.now = 0.0

    def feed(self, data: bytes) -> list[tuple[bytes, Any]]:
        self.now += 0.001
        a = self.fast.datagram_received(data, CP, self.now)
        b = self.ref.datagram_received(data, CP, self.now)
        assert a == b
        assert self.fast.take_end_markers() == self.ref.take_end_markers()
        assert [s.seid for s in self.fast.take_flushes()] == [s.seid for s in self.ref.take_flushes()]
        return a

    def associate(self) -> None:
        self.feed(pfcp.encode(PfcpMessage.build(
            "AssociationSetupRequest", seq=1, node_id=NodeId.ipv4(CP[0]),
            recovery_time_stamp=1000)))

    def same_state(self) -> None:
        assert state(self.fast.ctx) == state(self.ref.ctx)


def _bucket(b: Any) -> Any:
    return None if b is None else (b.rate_Bps, b.burst, b.tokens, b.queue_limit)


def state(ctx: UpfContext) -> Any:
    """Everything the procedures and the datapath read, as plain values."""
    sessions = []
    for seid, s in sorted(ctx.sessions.items()):
        qers = {k: (q.qer_id, q.gate_ul, q.gate_dl, q.mbr_ul_kbps, q.mbr_dl_kbps, q.qfi,
                    _bucket(q.bucket_ul), _bucket(q.bucket_dl)) for k, q in s.qers.items()}
        urrs = {k: tuple(getattr(u, n) for n in type(u).__slots__) for k, u in s.urrs.items()}
        sessions.append((seid, s.cp_seid, s.cp_ipv4, s.node_id, dict(s.pdrs), dict(s.fars), qers,
                         urrs, s.ue_ipv4, s.ul_teids, s.dl_ues))
    ul = {t: (p.session.seid, p.pdr_id, p.ue_ip, p.action, p.qfi,
              tuple(_bucket(b) for b in p.buckets), tuple(u.urr_id for u in p.urrs),
              None if p.by_qfi is None else sorted(p.by_qfi)) for t, p in ctx.ul_by_teid.items()}
    dl = {u: (p.session.seid, p.pdr_id, p.action, p.notify_cp, p.peer, p.hdr, p.teid,
              tuple(_bucket(b) for b in p.buckets), tuple(u2.urr_id for u2 in p.urrs))
          for u, p in ctx.dl_by_ue.items()}
    return sessions, ul, dl, dict(ctx.by_cp_fseid), ctx._next_teid, ctx._next_seid


def smf_requests(n: int, start: int = 0) -> list[tuple[bytes, Any]]:
    """Establishment octets as the SMF sends them (template path), and the SM contexts."""
    ctx = SmfContext()
    out = []
    for i in range(start, start + n):
        sm = ctx.new(f"imsi-00101{i:010d}", 1, "internet", {"sst": 1})
        sm.ue_ipv4 = f"10.45.{i // 250}.{i % 250 + 2}"
        sm.local_seid = 1000 + i
        data = smf_pfcp.establishment_request(sm, seq=100 + 2 * i, node_id=CP[0], cp_ip=CP[0])
        assert data is not None
        out.append((data, sm))
    return out


def activate(sm: Any, seq: int, upf_seid: int, teid: int, ip: str = "10.200.9.9") -> bytes:
    sm.upf_seid, sm.dl_teid, sm.dl_ip = upf_seid, teid, ip
    data = smf_pfcp.activate_downlink_request(sm, seq=seq)
    assert data is not None
    return data


def attach_all(pair: Pair, reqs: list[tuple[bytes, Any]]) -> None:
    for i, (data, sm) in enumerate(reqs):
        rsp = pfcp.decode(pair.feed(data)[0][0])
        assert rsp.cause == pfcp.CAUSE_ACCEPTED
        pair.feed(activate(sm, 101 + 2 * i, rsp.f_seid.seid, 0x5000 + i))


def test_smf_attach_requests_take_the_fast_path_with_identical_answers() -> None:
    pair = Pair()
    pair.associate()
    attach_all(pair, smf_requests(40))
    pair.same_state()
    book = pair.fast.shapes
    assert book is not None
    assert book.learned == 2  # one establishment shape, one modification shape
    assert book.hits == 2 * 39
    assert len(pair.fast.ctx.sessions) == 40
    assert all(p.action == 1 and p.peer == ("10.200.9.9", 2152)
               for p in pair.fast.ctx.dl_by_ue.values())


def test_retransmission_gets_the_cached_answer() -> None:
    pair = Pair()
    pair.associate()
    reqs = smf_requests(3)
    attach_all(pair, reqs[:2])
    first = pair.feed(reqs[2][0])
    assert pair.feed(reqs[2][0]) == first
    assert len(pair.fast.ctx.sessions) == 3
    pair.same_state()


def test_fast_path_refusals_match_the_generic_ones() -> None:
    pair = Pair()
    pair.associate()
    reqs = smf_requests(4)
    attach_all(pair, reqs[:2])
    # Modification of a session the UPF does not have: Cause 65, same octets.
    rsp = pfcp.decode(pair.feed(activate(reqs[2][1], 900, 0xDEAD, 1))[0][0])
    assert rsp.cause == pfcp.CAUSE_SESSION_CONTEXT_NOT_FOUND
    # Establishment after the association is gone: Cause 72, same octets.
    pair.feed(pfcp.encode(PfcpMessage.build("AssociationReleaseRequest", seq=2,
                                            node_id=NodeId.ipv4(CP[0]))))
    rsp = pfcp.decode(pair.feed(reqs[3][0])[0][0])
    assert rsp.cause == pfcp.CAUSE_NO_ESTABLISHED_ASSOCIATION
    assert pair.fast.shapes is not None and pair.fast.shapes.hits >= 2
    pair.same_state()


def test_usage_report_and_end_marker_on_a_fast_modification() -> None:
    """A modification that moves a live tunnel: end marker, same as the generic path."""
    pair = Pair()
    pair.associate()
    reqs = smf_requests(3)
    attach_all(pair, reqs)
    sm = reqs[2][1]
    pair.feed(activate(sm, 500, sm.upf_seid, 0x7777, "10.200.3.3"))
    pair.same_state()


def _establish(cp_seid: int, ue: str, dl_teid: int, dl_ip: str, ul_teid: int | None,
               seq: int) -> bytes:
    """The unit tests' own request shape: OHC in a Create FAR, maybe an explicit F-TEID."""
    fteid = FTeid.choose() if ul_teid is None else FTeid(ul_teid, "10.200.1.1")
    return pfcp.encode(PfcpMessage.build(
        "SessionEstablishmentRequest", seq=seq, seid=0, node_id=NodeId.ipv4(CP[0]),
        f_seid=FSeid(cp_seid, CP[0]),
        create_pdr=[
            Ies(pdr_id=1, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_ACCESS, f_teid=fteid, network_instance="internet",
                        ue_ip_address=pfcp.UeIpAddress(ipv4=ue), qfi=1),
                outer_header_removal=pfcp.OuterHeaderRemoval(0), far_id=1, qer_id=1, urr_id=1),
            Ies(pdr_id=2, precedence=255,
                pdi=Ies(source_interface=pfcp.IF_CORE, network_instance="internet",
                        ue_ip_address=pfcp.UeIpAddress(ipv4=ue, destination=True)),
                far_id=2, qer_id=1, urr_id=1)],
        create_far=[
            Ies(far_id=1, apply_action=pfcp.APPLY_FORW,
                forwarding_parameters=Ies(destination_interface=pfcp.IF_CORE)),
            Ies(far_id=2, apply_action=pfcp.APPLY_FORW,
                forwarding_parameters=Ies(
                    destination_interface=pfcp.IF_ACCESS,
                    outer_header_creation=pfcp.OuterHeaderCreation.gtpu(dl_teid, dl_ip)))],
        create_qer=[Ies(qer_id=1, gate_status=pfcp.GateStatus(), qfi=1,
                        mbr=pfcp.Bitrate(20_000, 10_000))],
        create_urr=[Ies(urr_id=1, measurement_method=pfcp.MEASURE_VOLUM,
                        reporting_triggers=pfcp.Flags(pfcp.TRIGGER_VOLTH, 3),
                        volume_threshold=pfcp.Volume(total=5000))]))


ip4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 2**64 - 1), ip4, st.integers(0, 2**32 - 1), ip4,
                          st.one_of(st.none(), st.integers(1, 2**32 - 1)),
                          st.integers(0, 2**24 - 1)), min_size=2, max_size=6))
def test_other_values_in_a_learned_shape(sessions: list[tuple[Any, ...]]) -> None:
    """Explicit F-TEIDs, OHC in a Create FAR, any SEID/address/sequence: same as generic,
    including the refusals (a reused F-TEID, an F-SEID already served)."""
    pair = Pair()
    pair.associate()
    for cp_seid, ue, dl_teid, dl_ip, ul_teid, seq in sessions:
        pair.feed(_establish(cp_seid, ue, dl_teid, dl_ip, ul_teid, seq))
    pair.same_state()
    # two shapes at most (with and without an explicit F-TEID), each learned once
    assert pair.fast.shapes is not None and pair.fast.shapes.hits >= len(sessions) - 2


def _learned_pair() -> tuple[Pair, bytes, bytes]:
    pair = Pair()
    pair.associate()
    reqs = smf_requests(3)
    attach_all(pair, reqs[:2])
    est = reqs[2][0]
    mod = activate(reqs[2][1], 999, 3, 0x1234)
    return pair, est, mod


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_corrupted_copies_of_a_learned_shape(data: st.DataObject) -> None:
    """Bad input near a learned shape (a flipped octet, cut or grown): the generic answer."""
    pair, est, mod = _learned_pair()
    base = bytearray(data.draw(st.sampled_from([est, mod])))
    how = data.draw(st.sampled_from(["flip", "cut", "grow"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        del base[data.draw(st.integers(0, len(base) - 1)):]
    else:
        base += data.draw(st.binary(min_size=1, max_size=8))
    pair.feed(bytes(base))
    pair.same_state()


def test_learning_is_rate_limited_for_one_off_shapes() -> None:
    pair = Pair()
    pair.associate()
    book = pair.fast.shapes
    assert book is not None
    for i in range(200):
        # a new shape every time: the network instance differs (it is not a per-session value)
        msg = pfcp.decode(_establish(i + 1, "10.45.0.2", 1, "10.0.0.1", None, i))
        msg.ies.items[2][1].items[2][1].items[2] = (pfcp.IE_NAMES["network_instance"], f"dnn{i}")
        pair.feed(pfcp.encode(msg))
    assert book.learned <= fastpath.LEARN_BURST + 200 // fastpath.LEARN_EVERY
    assert sum(len(v) for v in book.shapes.values()) <= fastpath.SHAPES_PER_KEY * len(book.shapes)
    pair.same_state()


def test_response_templates_equal_the_encoder() -> None:
    from fivecore.nf.upf import procedures as P

    rt = fastpath.ResponseTemplates()
    node = NodeId.ipv4("127.0.0.7")
    for seq, seid, up, teid in [(0, 0, 0, 0), (1, 2**64 - 1, 5, 2**32 - 1), (2**24 - 1, 7, 9, 1)]:
        created = [P.CreatedPdr(1, teid, "10.200.1.1")]
        assert rt.establishment(seq, seid, node, up, created) == pfcp.encode(
            fastpath.establishment_response(seq, seid, node, up, created))
        assert rt.modification(seq, seid) == pfcp.encode(fastpath.modification_response(seq, seid))
    # out of range: no template answer, the encoder says what is wrong
    assert rt.modification(2**24, 1) is None


def test_failed_learning_backs_off(monkeypatch: Any) -> None:
    """Shapes that give no template are not tried on every request."""
    calls = []

    def no_template(build: Any, fields: Any) -> None:
        calls.append(1)
        return None

    monkeypatch.setattr(fastpath, "octet_template", no_template)
    pair = Pair()
    pair.associate()
    attach_all(pair, smf_requests(300))
    pair.same_state()
    assert pair.fast.shapes is not None and pair.fast.shapes.hits == 0
    assert len(calls) <= fastpath.LEARN_BURST + 8
