"""The audit report: exposure per RAN vendor, vendor diversity, configuration findings.

:class:`AuditReport` gathers the pieces; :meth:`AuditReport.to_dict` is the ``--json`` form
and :meth:`AuditReport.render_html` a single self-contained page (inline CSS, no scripts,
no external resources) that reads top-down: summary, diversity, per vendor, findings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from fivecore.trust.diversity import DiversityReport
from fivecore.trust.exposure import METRIC_INFO, ExposureSummary, Finding, Metric, VendorExposure

#: Metrics in the summary table, in reading order.
SUMMARY_METRICS: tuple[Metric, ...] = (
    Metric.PERMANENT_IDENTITY,
    Metric.NAS_UNCIPHERED,
    Metric.NAS_INTEGRITY_OFF,
    Metric.KGNB_DELIVERED,
    Metric.IMEISV_FULL,
    Metric.GUTI_REUSED,
    Metric.UP_INTEGRITY_OFF,
    Metric.UP_CIPHERING_OFF,
    Metric.KEYS_TO_OTHER_VENDOR,
)

_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass
class AuditReport:
    generated: str
    exposure: ExposureSummary
    diversity: DiversityReport | None = None
    ledger_path: str | None = None
    audit_log_path: str | None = None
    policy_source: str | None = None

    def findings(self) -> list[Finding]:
        return sorted(self.exposure.findings(), key=lambda f: (_SEVERITY_ORDER[f.severity], f.id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "sources": {
                "ledger": self.ledger_path,
                "audit_log": self.audit_log_path,
                "policy": self.policy_source,
            },
            "exposure": self.exposure.to_dict(),
            "diversity": self.diversity.to_dict() if self.diversity else None,
        }

    # -- HTML ------------------------------------------------------------------------------

    def render_html(self) -> str:
        parts = [_HEAD, '<main>', self._header(), self._summary()]
        if self.diversity is not None:
            parts.append(self._diversity())
        parts.append(self._vendors())
        parts.append(self._findings())
        parts.append("</main></body></html>\n")
        return "\n".join(parts)

    def _header(self) -> str:
        src = []
        if self.ledger_path:
            src.append(f"exposure ledger <code>{escape(self.ledger_path)}</code>")
        if self.audit_log_path:
            src.append(f"audit log <code>{escape(self.audit_log_path)}</code>")
        if self.policy_source:
            src.append(f"policy <code>{escape(self.policy_source)}</code>")
        note = ""
        if self.exposure.malformed:
            note = f' <span class="warn">{self.exposure.malformed} malformed ledger lines skipped.</span>'
        return (
            "<header><h1>RAN exposure audit</h1>"
            "<p class=\"lede\">What each radio-network vendor could observe in this network, "
            "and what in the core's configuration lets it.</p>"
            f"<p class=\"meta\">Generated {escape(self.generated)} from {', '.join(src) or 'no sources'}; "
            f"{self.exposure.events} events.{note}</p></header>"
        )

    def _summary(self) -> str:
        ex = self.exposure
        vendors = [v for _, v in sorted(ex.vendors.items())]
        gnbs = sum(len(v.gnbs) for v in vendors)
        ues = len(set().union(*(v.ues for v in vendors))) if vendors else 0
        perm = sum(v.total(Metric.PERMANENT_IDENTITY) for v in vendors)
        keys = sum(v.ue_count(Metric.KEYS_TO_OTHER_VENDOR) for v in vendors)
        findings = self.findings()
        high = sum(1 for f in findings if f.severity == "high")
        flags = self.diversity.flags if self.diversity else []
        cards = [
            _card("RAN vendors", str(len(vendors)), ""),
            _card("gNBs", str(gnbs), ""),
            _card("UEs seen", str(ues), ""),
            _card("Permanent identities exposed", str(perm), "bad" if perm else "good"),
            _card("UEs with keys known to another vendor", str(keys), "bad" if keys else "good"),
            _card("Configuration findings" + (f" ({high} high)" if high else ""), str(len(findings)),
                  "bad" if high else ("warn" if findings else "good")),
        ]
        if self.diversity is not None:
            cards.append(_card("Diversity caps exceeded", str(len(flags)), "bad" if flags else "good"))
        rows = []
        for v in vendors:
            cells = "".join(_count_cell(v, m) for m in SUMMARY_METRICS)
            rows.append(
                f"<tr><th scope=\"row\"><a href=\"#vendor-{escape(v.vendor)}\">{escape(_vname(v))}</a>"
                f"{_risk_badge(v.risk_class)}</th><td class=\"num\">{len(v.gnbs)}</td>"
                f"<td class=\"num\">{len(v.ues)}</td>{cells}</tr>"
            )
        head = "".join(f"<th scope=\"col\">{escape(METRIC_INFO[m].title)}</th>" for m in SUMMARY_METRICS)
        table = (
            "<table class=\"summary\"><thead><tr><th scope=\"col\">Vendor</th><th scope=\"col\">gNBs</th>"
            f"<th scope=\"col\">UEs</th>{head}</tr></thead><tbody>"
            + ("".join(rows) or f"<tr><td colspan=\"{3 + len(SUMMARY_METRICS)}\">No RAN activity recorded.</td></tr>")
            + "</tbody></table>"
            "<p class=\"note\">Each cell: UEs affected / events. Red: an exposure the core's configuration "
            "or the UE's could avoid. Amber: given to every gNB by design (AS keys), listed so the scale is visible.</p>"
        )
        flag_list = ""
        if flags:
            flag_list = "<ul class=\"flags\">" + "".join(f"<li>{escape(f.message)}</li>" for f in flags) + "</ul>"
        return f"<section><h2>Summary</h2><div class=\"cards\">{''.join(cards)}</div>{flag_list}{table}</section>"

    def _diversity(self) -> str:
        assert self.diversity is not None
        blocks = []
        for z in self.diversity.zones:
            if not z.total:
                blocks.append(f"<h3>Zone {escape(z.zone)}</h3><p class=\"note\">No admitted subjects.</p>")
                continue
            rows = "".join(
                f"<tr><th scope=\"row\">{escape(v.vendor_name)}{_risk_badge(v.risk_class)}</th>"
                f"<td class=\"num\">{v.count}</td><td class=\"num\">{v.share:.1%}</td>"
                f"<td><span class=\"bar\"><span style=\"width:{v.share * 100:.1f}%\"></span></span></td></tr>"
                for v in z.vendors
            )
            flags = "".join(f"<p class=\"flag\">{escape(f.message)}</p>" for f in z.flags)
            unit = "gNBs" if z.zone == "ran" else "NF instances"
            blocks.append(
                f"<h3>Zone {escape(z.zone)} <span class=\"meta\">{z.total} admitted {unit}</span></h3>{flags}"
                "<table><thead><tr><th scope=\"col\">Vendor</th><th scope=\"col\">Count</th>"
                f"<th scope=\"col\">Share</th><th scope=\"col\"></th></tr></thead><tbody>{rows}</tbody></table>"
            )
        return "<section><h2>Vendor diversity (SM05)</h2>" + "".join(blocks) + "</section>"

    def _vendors(self) -> str:
        ex = self.exposure
        if not ex.vendors:
            return "<section><h2>Per vendor</h2><p>No RAN activity recorded.</p></section>"
        out = ["<section><h2>Per vendor</h2>"]
        for _, v in sorted(ex.vendors.items()):
            rows = "".join(
                f"<tr class=\"{_tone(m, v.total(m)).strip()}\"><th scope=\"row\">{escape(info.title)}</th>"
                f"<td>{escape(info.meaning)}</td><td class=\"clause\">{escape(info.clause)}</td>"
                f"<td class=\"num\">{v.ue_count(m)}</td><td class=\"num\">{v.total(m)}</td></tr>"
                for m, info in METRIC_INFO.items()
            )
            gnbs = ", ".join(f"<code>{escape(g)}</code>" for g in sorted(v.gnbs)) or "none recorded"
            top = _top_ues(v)
            out.append(
                f"<article id=\"vendor-{escape(v.vendor)}\"><h3>{escape(_vname(v))}{_risk_badge(v.risk_class)}</h3>"
                f"<p class=\"meta\">{len(v.gnbs)} gNBs: {gnbs}. {len(v.ues)} UEs seen.</p>"
                "<table><thead><tr><th scope=\"col\">Observation</th><th scope=\"col\">Meaning</th>"
                "<th scope=\"col\">Clause</th><th scope=\"col\">UEs</th><th scope=\"col\">Events</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>{top}</article>"
            )
        out.append("</section>")
        return "".join(out)

    def _findings(self) -> str:
        ex = self.exposure
        if ex.amf_config is None:
            return (
                "<section><h2>Configuration findings</h2><p>No AMF security configuration recorded "
                "(the AMF records it at start; or pass <code>--amf-security FILE</code>).</p></section>"
            )
        findings = self.findings()
        if not findings:
            body = "<p class=\"good-text\">No findings: the AMF configuration meets the checked TS 33.501 / TS 33.512 requirements.</p>"
        else:
            body = "".join(
                f"<div class=\"finding {escape(f.severity)}\"><h3><span class=\"sev\">{escape(f.severity)}</span> "
                f"{escape(f.title)} <code>{escape(f.id)}</code></h3>"
                f"<p><b>Observed:</b> <code>{escape(f.observed)}</code></p>"
                f"<p><b>Requirement:</b> {escape('; '.join(f.clauses))}</p>"
                f"<p><b>Fix:</b> {escape(f.fix)}</p></div>"
                for f in findings
            )
        cfg = ex.amf_config.to_dict()
        cfg_rows = "".join(f"<tr><th scope=\"row\">{escape(k)}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in cfg.items())
        return (
            "<section><h2>Configuration findings</h2>" + body
            + f"<details><summary>AMF security configuration checked</summary><table>{cfg_rows}</table></details></section>"
        )


#: trust audit events of the AMF's Path Switch (fivecore.nf.amf.handover)
HANDOVER_EVENTS: tuple[str, ...] = ("path-switch-refused", "path-switch-suspected-hijack",
                                    "path-switch-capabilities-mismatch")


def handover_events(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Path Switch refusals and suspected hijacks of an audit log, counted per (event, the
    claiming gNB's vendor, the source gNB's vendor): ``fivecore trust report`` shows them."""
    counts: dict[tuple[str, str, str], int] = {}
    for r in records:
        ev = r.get("event")
        if ev not in HANDOVER_EVENTS:
            continue
        key = (str(ev), str(r.get("vendor") or "unknown"), str(r.get("source_vendor") or "-"))
        counts[key] = counts.get(key, 0) + 1
    return [{"event": e, "vendor": v, "source_vendor": sv, "count": n}
            for (e, v, sv), n in sorted(counts.items())]


def _vname(v: VendorExposure) -> str:
    return v.vendor_name or v.vendor


def _risk_badge(risk: str | None) -> str:
    if not risk:
        return ""
    cls = "trusted" if risk == "trusted" else ("unknown" if risk == "unknown" else "risky")
    return f' <span class="badge {cls}">{escape(risk)}</span>'


def _card(label: str, value: str, tone: str) -> str:
    return f"<div class=\"card {tone}\"><div class=\"value\">{escape(value)}</div><div class=\"label\">{escape(label)}</div></div>"


def _count_cell(v: VendorExposure, m: Metric) -> str:
    total = v.total(m)
    cls = "num" + _tone(m, total)
    return f"<td class=\"{cls}\">{v.ue_count(m)} / {total}</td>"


def _tone(m: Metric, total: int) -> str:
    info = METRIC_INFO[m]
    if not total or not info.exposure:
        return ""
    return " inherent" if info.inherent else " exposed"


def _top_ues(v: VendorExposure, limit: int = 5) -> str:
    scores: dict[str, int] = {}
    for m, info in METRIC_INFO.items():
        if not info.exposure or info.inherent:
            continue
        for ue, n in v.per_metric[m].items():
            scores[ue] = scores.get(ue, 0) + n
    if not scores:
        return ""
    top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    items = "".join(f"<li><code>{escape(ue)}</code>: {n} avoidable exposure events</li>" for ue, n in top)
    return f"<p class=\"meta\">Most exposed UEs (pseudonyms; full per-UE counts in <code>--json</code>):</p><ol class=\"top\">{items}</ol>"


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fivecore RAN exposure audit</title>
<style>
:root { --ink:#1d2330; --muted:#5b6475; --line:#d9dee7; --bad:#b42318; --badbg:#fde8e6;
        --warn:#9a5b00; --warnbg:#fff4dc; --good:#1f7a3d; --goodbg:#e5f5ea; --accent:#24508f; }
* { box-sizing: border-box; }
body { margin:0; background:#f6f7f9; color:var(--ink);
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1140px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
.lede { margin: 0 0 6px; font-size: 17px; }
.meta { color: var(--muted); font-size: 13px; font-weight: normal; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:18px 0; }
h2 { margin: 0 0 12px; font-size: 20px; border-bottom: 2px solid var(--accent); padding-bottom: 4px; }
h3 { margin: 18px 0 8px; font-size: 16px; }
.cards { display:grid; grid-template-columns: repeat(auto-fill, minmax(128px, 1fr)); gap:10px; margin-bottom:14px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 12px; background:#fafbfc; }
.card .value { font-size: 24px; font-weight: 700; }
.card .label { color: var(--muted); font-size: 12.5px; }
.card.bad { background: var(--badbg); border-color:#f3b8b1; } .card.bad .value { color: var(--bad); }
.card.warn { background: var(--warnbg); border-color:#f1d39a; } .card.warn .value { color: var(--warn); }
.card.good { background: var(--goodbg); border-color:#b3dfc1; } .card.good .value { color: var(--good); }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
thead th { background:#eef1f6; font-size: 12.5px; }
table.summary thead th { font-size: 11.5px; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.exposed, tr.exposed td.num { background: var(--badbg); color: var(--bad); font-weight: 600; }
td.inherent, tr.inherent td.num { background: var(--warnbg); color: var(--warn); font-weight: 600; }
td.clause { color: var(--muted); white-space: nowrap; font-size: 12.5px; }
.badge { display:inline-block; font-size: 11px; padding: 1px 7px; border-radius: 10px; margin-left: 6px;
         font-weight: 600; vertical-align: middle; }
.badge.trusted { background: var(--goodbg); color: var(--good); }
.badge.risky { background: var(--badbg); color: var(--bad); }
.badge.unknown { background: #eceff3; color: var(--muted); }
.bar { display:inline-block; width: 220px; height: 10px; background:#eceff3; border-radius:5px; overflow:hidden; }
.bar span { display:block; height:100%; background: var(--accent); }
.flag, ul.flags li { color: var(--bad); font-weight: 600; }
.note { color: var(--muted); font-size: 12.5px; }
.warn { color: var(--warn); }
.good-text { color: var(--good); font-weight: 600; }
article { border-top: 1px solid var(--line); margin-top: 8px; }
article:first-of-type { border-top: 0; }
ol.top { margin: 4px 0 8px; font-size: 13px; }
.finding { border-left: 5px solid var(--line); padding: 6px 14px; margin: 10px 0; background:#fafbfc; }
.finding h3 { margin: 4px 0 6px; }
.finding p { margin: 4px 0; }
.finding.high { border-color: var(--bad); } .finding.medium { border-color: #d98a00; } .finding.low { border-color: #8a94a6; }
.sev { text-transform: uppercase; font-size: 11px; padding: 2px 6px; border-radius: 4px; color:#fff; background:#8a94a6; }
.finding.high .sev { background: var(--bad); } .finding.medium .sev { background: #d98a00; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
details { margin-top: 10px; } summary { cursor: pointer; color: var(--accent); }
a { color: var(--accent); }
@media print { body { background:#fff; } section { border: 0; } }
</style></head><body>"""
