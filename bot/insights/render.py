"""The report as Slack mrkdwn (the private answer), Markdown (`sevbot insights`) and JSON (`--format json`).

Every piece of text that came from a person or a sender (titles, services, alert names, follow-ups) is escaped for
where it is shown: it can't ping a channel in Slack, or inject a link, heading or HTML in Markdown.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.incident import human_id
from bot.domain.markdown import inert_markdown, who
from bot.domain.text import escape_mrkdwn, one_line, truncate
from bot.insights.report import Count, Report

FORMAT = "sevbot-insights/1"
SLACK_LIST_MAX = 8


def duration(seconds: float | None) -> str:
    """`45s`, `12m`, `3h 05m`, `2d 04h`; an em dash when there is nothing to show."""
    if seconds is None:
        return "\u2014"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def change(count: Count) -> str:
    """`+3, +33%` / `-2, -50%` / `+4, new` / `no change`."""
    if count.change == 0:
        return "no change"
    percent = count.change_percent
    return f"{count.change:+d}, " + ("new" if percent is None else f"{percent:+.0f}%")


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _percent(met: int, total: int) -> str:
    return "\u2014" if total == 0 else f"{100 * met / total:.0f}%"


def period_line(report: Report) -> str:
    return (f"the last {report.days} days ({report.start:%Y-%m-%d %H:%M} \u2192 {report.end:%Y-%m-%d %H:%M} UTC), "
            f"against the {report.days} days before")


def cadence_rule(report: Report) -> str:
    return (f"met = no stretch between the declare, its stakeholder updates and the resolve (or now, if open) longer "
            f"than the severity's update interval + {report.cadence_grace_minutes:.0f} min")


# ---- Slack ------------------------------------------------------------------------------------------------------

def slack_text(report: Report, *, chart_note: str | None = None) -> str:
    """The private answer to `/incident insights`: mrkdwn, every list capped so it stays one readable message."""
    out = [f":bar_chart: *Incident insights: {period_line(report)}*"]
    out.append(f"*Incidents:* {report.total.current} (previous {report.total.previous}: {change(report.total)})")
    if report.by_severity:
        out.append("*By severity:* " + " \u00b7 ".join(
            f"{escape_mrkdwn(c.key.upper())} {c.current} ({change(c)})" for c in report.by_severity))
    if report.by_service:
        shown = report.by_service[:SLACK_LIST_MAX]
        out.append("*By service:* " + " \u00b7 ".join(f"{escape_mrkdwn(truncate(c.key, 60))} {c.current} ({change(c)})" for c in shown)
                   + _more(len(report.by_service) - len(shown)))
    out.append("")
    out.append("*Time to acknowledge and to resolve* (p50 / p90, incidents resolved so far)")
    if not report.times:
        out.append("\u2022 No incident of the period is resolved yet.")
    for t in report.times:
        out.append(f"\u2022 {escape_mrkdwn(t.severity.upper())}: acknowledge {duration(t.ack_p50)} / {duration(t.ack_p90)} "
                   f"({t.acked} paged) \u00b7 resolve {duration(t.resolve_p50)} / {duration(t.resolve_p90)} ({t.resolved} resolved)")
    out.append("")
    out.append(f"*Stakeholder updates on cadence:* {_percent(report.cadence_met, report.cadence_total)} "
               f"({report.cadence_met} of {report.cadence_total} incidents). _{cadence_rule(report)}._")
    for c in report.cadence:
        out.append(f"\u2022 {escape_mrkdwn(c.severity.upper())} (every {c.cadence_minutes:g} min): {c.met} of {c.total}")
    out.append("")
    out.append("*Repeat incidents by service*")
    out += [f"\u2022 {escape_mrkdwn(truncate(r.service, 60))}: {r.incidents} incidents, the latest {human_id(r.last_incident)} "
            f"on {_day(r.last_declared_at)}" for r in report.repeats] or ["\u2022 No service had more than one incident."]
    out.append("")
    out.append(f"*Recurring patterns* (since {_day(report.pattern_start)})")
    shown_patterns = report.patterns[:SLACK_LIST_MAX]
    out += [f"\u2022 {escape_mrkdwn(p.sentence(truncate(one_line(p.key), 80)))}" for p in shown_patterns] or ["\u2022 None found."]
    if len(report.patterns) > len(shown_patterns):
        out.append(f"\u2022 \u2026and {len(report.patterns) - len(shown_patterns)} more (`sevbot insights` lists them all)")
    out.append("")
    out.append("*Postmortem follow-through*")
    missing = report.missing_postmortems
    if missing:
        listed = ", ".join(f"{human_id(m.incident)} ({escape_mrkdwn(m.severity.upper())}, resolved {_day(m.resolved_at)})"
                           for m in missing[:SLACK_LIST_MAX])
        out.append(f"\u2022 {len(missing)} resolved SEV0\u2013SEV2 incident(s) without a postmortem link 48 h after resolve: "
                   f"{listed}{_more(len(missing) - SLACK_LIST_MAX)}")
    else:
        out.append("\u2022 Every resolved SEV0\u2013SEV2 incident has its postmortem link (or is within 48 h of resolve).")
    overdue = report.overdue_followups
    if overdue:
        out.append(f"\u2022 {len(overdue)} follow-up(s) past their due date (sevbot does not record when one is done):")
        for f in overdue[:SLACK_LIST_MAX]:
            owner = f"<@{f.owner}>" if f.owner else "no owner"
            out.append(f"    \u25e6 {human_id(f.incident)}: {escape_mrkdwn(truncate(one_line(f.text), 120))} \u2014 {owner}, "
                       f"due {f.due.isoformat()} ({f.days_overdue} d ago)")
        if len(overdue) > SLACK_LIST_MAX:
            out.append(f"    \u25e6 \u2026and {len(overdue) - SLACK_LIST_MAX} more")
    else:
        out.append("\u2022 No follow-up is past its due date.")
    if report.followups_without_due:
        out.append(f"\u2022 {report.followups_without_due} follow-up(s) have no due date.")
    if chart_note:
        out += ["", chart_note]
    return "\n".join(out)


def _more(hidden: int) -> str:
    return f" \u2026and {hidden} more" if hidden > 0 else ""


# ---- Markdown -----------------------------------------------------------------------------------------------------

def markdown(report: Report, names: dict[str, str] | None = None) -> str:
    """`names`: display names from the snapshot (bot/people), so owners read as people, not ids."""
    def md(value: object) -> str:
        return inert_markdown(value, mrkdwn=True)

    out = [f"# Incident insights: the last {report.days} days", "",
           f"Period: {period_line(report)}.", "",
           "## Incidents against the previous period", "",
           "| | this period | previous | change |", "|---|---:|---:|---|",
           f"| **all** | {report.total.current} | {report.total.previous} | {change(report.total)} |"]
    out += [f"| {md(c.key.upper())} | {c.current} | {c.previous} | {change(c)} |" for c in report.by_severity]
    out += ["", "| service | this period | previous | change |", "|---|---:|---:|---|"]
    out += [f"| {md(c.key)} | {c.current} | {c.previous} | {change(c)} |" for c in report.by_service]
    out += ["", "## Time to acknowledge and to resolve", "",
            "Incidents of the period resolved so far; nearest-rank percentiles.", "",
            "| severity | acknowledged | ack p50 | ack p90 | resolved | resolve p50 | resolve p90 |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    out += [f"| {md(t.severity.upper())} | {t.acked} | {duration(t.ack_p50)} | {duration(t.ack_p90)} | {t.resolved} | "
            f"{duration(t.resolve_p50)} | {duration(t.resolve_p90)} |" for t in report.times]
    out += ["", "## Stakeholder updates on cadence", "",
            f"{_percent(report.cadence_met, report.cadence_total)} of incidents ({report.cadence_met} of {report.cadence_total}); "
            f"{cadence_rule(report)}.", "",
            "| severity | interval | met | incidents | share |", "|---|---:|---:|---:|---:|"]
    out += [f"| {md(c.severity.upper())} | {c.cadence_minutes:g} min | {c.met} | {c.total} | {_percent(c.met, c.total)} |"
            for c in report.cadence]
    out += ["", "## Repeat incidents by service", ""]
    out += [f"- {md(r.service)}: {r.incidents} incidents, the latest {human_id(r.last_incident)} on {_day(r.last_declared_at)}"
            for r in report.repeats] or ["No service had more than one incident."]
    out += ["", f"## Recurring patterns (since {_day(report.pattern_start)})", ""]
    out += [f"- {p.sentence(md(p.key))}" for p in report.patterns] or ["None found."]
    out += ["", "## Postmortem follow-through", "",
            "Resolved SEV0–SEV2 incidents with no postmortem link 48 hours after resolve:", ""]
    out += [f"- {human_id(m.incident)} ({md(m.severity.upper())}) {md(m.title)}: resolved {_day(m.resolved_at)}, "
            f"{m.hours_since_resolve} h ago" for m in report.missing_postmortems] or ["None."]
    out += ["", "Follow-ups past their due date (sevbot does not record when a follow-up is done):", ""]
    out += [f"- {human_id(f.incident)}: {md(f.text)} (owner {who(f.owner, names) if f.owner else 'none'}, due {f.due.isoformat()}, "
            f"{f.days_overdue} days ago)" for f in report.overdue_followups] or ["None."]
    if report.followups_without_due:
        out += ["", f"{report.followups_without_due} follow-up(s) have no due date."]
    return "\n".join(out) + "\n"


# ---- JSON ---------------------------------------------------------------------------------------------------------

def as_json(report: Report) -> dict[str, Any]:
    def count(c: Count) -> dict[str, Any]:
        return {"key": c.key, "current": c.current, "previous": c.previous, "change": c.change,
                "change_percent": None if c.change_percent is None else round(c.change_percent, 1)}

    return {
        "format": FORMAT,
        "period": {"days": report.days, "start": report.start.isoformat(), "end": report.end.isoformat(),
                   "previous_start": report.previous_start.isoformat()},
        "incidents": count(report.total),
        "by_severity": [count(c) for c in report.by_severity],
        "by_service": [count(c) for c in report.by_service],
        "times": [{"severity": t.severity, "acknowledged": t.acked, "ack_p50_s": t.ack_p50, "ack_p90_s": t.ack_p90,
                   "resolved": t.resolved, "resolve_p50_s": t.resolve_p50, "resolve_p90_s": t.resolve_p90} for t in report.times],
        "cadence": {"grace_minutes": report.cadence_grace_minutes, "met": report.cadence_met, "incidents": report.cadence_total,
                    "by_severity": [{"severity": c.severity, "interval_minutes": c.cadence_minutes, "met": c.met, "incidents": c.total}
                                    for c in report.cadence]},
        "repeats": [{"service": r.service, "incidents": r.incidents, "latest": human_id(r.last_incident),
                     "latest_declared_at": r.last_declared_at.isoformat()} for r in report.repeats],
        "patterns": {"since": report.pattern_start.isoformat(), "found": [
            {"kind": p.kind, "key": p.key, "shape": p.shape, "weekday": p.weekday, "hour_utc": p.hour, "hits": p.hits,
             "out_of": p.out_of, "chance": p.chance, "text": p.sentence()} for p in report.patterns]},
        "postmortems_missing": [{"incident": human_id(m.incident), "severity": m.severity, "title": m.title,
                                 "resolved_at": m.resolved_at.isoformat(), "hours_since_resolve": m.hours_since_resolve}
                                for m in report.missing_postmortems],
        "followups_overdue": [{"incident": human_id(f.incident), "text": f.text, "owner": f.owner, "due": f.due.isoformat(),
                               "days_overdue": f.days_overdue} for f in report.overdue_followups],
        "followups_without_due": report.followups_without_due,
        "chart": chart_data(report),
    }


def chart_data(report: Report) -> dict[str, Any]:
    """What the picture draws (also the chart child process's input)."""
    return {"title": f"Incidents and alerts by weekday and hour (UTC), last {report.days} days",
            "incidents": report.heat_incidents, "alerts": report.heat_alerts,
            "weeks": [{"start": w.start.isoformat(), "resolved": w.resolved, "resolve_p50_hours": w.resolve_p50_hours}
                      for w in report.weeks]}
