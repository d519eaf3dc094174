"""Network-triggered Service Request from the user plane (TS 23.502 §4.2.3.3 steps 2a-3a), the
SMF's sans-I/O part: the AN-release FAR asks the UPF to notify (NOCP), and a Session Report
Request with a Downlink Data Report is recognised (TS 29.244 §5.2.3.1, §8.2.21)."""

from __future__ import annotations

from fivecore.nf.smf import pfcp as smf_pfcp
from fivecore.nf.smf.context import SmfContext
from fivecore.wire import pfcp
from fivecore.wire.pfcp import Flags, Ies, PfcpMessage


def test_deactivated_downlink_buffers_and_notifies() -> None:
    sm = SmfContext().new("imsi-001010000000001", 1, "internet", {"sst": 1})
    sm.upf_seid = 0x55
    req = pfcp.decode(pfcp.encode(smf_pfcp.deactivate_downlink(sm, seq=3)))
    far = req.ies.all("update_far")[0]
    assert far.far_id == 2 and far.apply_action & pfcp.APPLY_BUFF and far.apply_action & pfcp.APPLY_NOCP
    assert far.apply_action.octets == 2 and not far.apply_action & pfcp.APPLY_FORW


def test_downlink_data_report_is_recognised() -> None:
    def report(rt: int, **ies: object) -> PfcpMessage:
        return pfcp.decode(pfcp.encode(PfcpMessage.build("SessionReportRequest", seq=9, seid=0x77,
                                                         report_type=Flags(rt, 1), **ies)))

    assert smf_pfcp.is_downlink_data_report(report(pfcp.REPORT_DLDR, downlink_data_report=Ies(pdr_id=2)))
    assert not smf_pfcp.is_downlink_data_report(report(pfcp.REPORT_USAR))
