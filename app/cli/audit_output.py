"""What `tokenidp audit` prints: the log and its report in 80 columns, or JSON for scripts.

Client ids and addresses come from requests: anyone can send one holding terminal escape
sequences, so every value is printed with its non-printable characters escaped.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from app.audit import report as findings
from app.audit.queries import AuditRecord
from app.audit.report import AuditReport, Issuance
from app.audit.times import format_duration, format_time, iso_time
from app.cli.table import TERMINAL_WIDTH, Column, render_table

EVENT_COLUMNS = (
    Column("TIME (UTC)"),
    Column("EVENT"),
    Column("CLIENT", shrink="end"),
    Column("KID", shrink="end"),
    Column("DETAILS", shrink="end", detail=True),
)
SEVERITY_WIDTH = max(len(severity) for severity in findings.SEVERITIES) + 2


def printable(text: str) -> str:
    """`text` with control and other invisible characters written as `\\x1b`, `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def events_table(records: Sequence[AuditRecord], *, wide: bool) -> str:
    """One line per event when it fits in 80 columns; else its details on a line below."""
    rows = [
        (
            format_time(record.occurred_at),
            printable(record.event),
            _text(record.client_id),
            _text(record.kid),
            event_details(record),
        )
        for record in records
    ]
    return render_table(EVENT_COLUMNS, rows, wide=wide)


def event_details(record: AuditRecord) -> str:
    """The event's other fields as `name=value` pairs, the most telling first (who, which
    token); the subject only when it is not the client itself (client_credentials)."""
    pairs = [
        ("by", record.actor),
        ("jti", record.jti),
        ("subject", record.subject if record.subject != record.client_id else None),
        ("scopes", ",".join(record.scopes) or None),
        ("from", record.address),
        ("grant", record.grant_type),
        ("reason", record.reason),
        *sorted((name, _detail_value(value)) for name, value in record.detail.items()),
    ]
    return " ".join(f"{name}={_quoted(value)}" for name, value in pairs if value is not None)


def event_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "occurred_at": record.occurred_at,
        "time": iso_time(record.occurred_at),
        "event": record.event,
        "actor": record.actor,
        "client_id": record.client_id,
        "subject": record.subject,
        "kid": record.kid,
        "jti": record.jti,
        "grant_type": record.grant_type,
        "scopes": list(record.scopes),
        "address": record.address,
        "reason": record.reason,
        "detail": record.detail,
    }


def report_text(report: AuditReport) -> str:
    """The window, issuance against the previous period, then the findings, worst first."""
    window = report.window
    length = format_duration(window.length_seconds)
    lines = [
        f"audit report: {format_time(window.start)} to {format_time(window.end)} UTC ({length}), "
        f"compared with the {length} before",
        "",
    ]
    if report.clients:
        lines += _issuance_table("tokens issued per client", "CLIENT", report.clients)
        lines += _issuance_table("tokens issued per kid", "KID", report.kids)
    else:
        lines += ["no tokens issued in either period", ""]
    if not report.findings:
        lines.append("findings: none")
        return "\n".join(lines)
    counts = {severity: 0 for severity in findings.SEVERITIES}
    for finding in report.findings:
        counts[finding.severity] += 1
    lines.append(
        "findings: "
        + ", ".join(f"{severity} {count}" for severity, count in counts.items() if count)
    )
    for finding in report.findings:
        lines.append(
            textwrap.fill(
                printable(finding.summary),
                width=TERMINAL_WIDTH,
                initial_indent=finding.severity.upper().ljust(SEVERITY_WIDTH),
                subsequent_indent=" " * SEVERITY_WIDTH,
                break_long_words=True,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def report_json(report: AuditReport) -> dict[str, Any]:
    window = report.window
    return {
        "since": window.start,
        "until": window.end,
        "since_time": iso_time(window.start),
        "until_time": iso_time(window.end),
        "previous_since": window.previous().start,
        "flagged": report.flagged,
        "thresholds": {
            "spike_ratio": findings.SPIKE_RATIO,
            "spike_min_tokens": findings.SPIKE_MIN_TOKENS,
            "burst_min_failures": findings.BURST_MIN_FAILURES,
            "burst_seconds": findings.BURST_SECONDS,
        },
        "issuance": {
            "clients": [_issuance_json("client_id", row) for row in report.clients],
            "kids": [_issuance_json("kid", row) for row in report.kids],
        },
        "findings": [
            {
                "severity": finding.severity,
                "kind": finding.kind,
                "summary": finding.summary,
                "facts": dict(finding.facts),
            }
            for finding in report.findings
        ],
    }


def _issuance_table(title: str, header: str, rows: Sequence[Issuance]) -> list[str]:
    columns = (Column(header, shrink="end"), Column("BEFORE"), Column("NOW"), Column("CHANGE"))
    cells = [(_text(row.name), row.previous, row.current, _change(row)) for row in rows]
    return [title, render_table(columns, cells, wide=False), ""]


def _issuance_json(name: str, row: Issuance) -> dict[str, Any]:
    return {name: row.name, "previous": row.previous, "current": row.current}


def _change(row: Issuance) -> str:
    if row.previous == 0:
        return "new"
    if row.current == 0:
        return "none now"
    return f"{row.current / row.previous:.1f}×"


def _text(value: str | None) -> str | None:
    return None if value is None else printable(value)


def _detail_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


def _quoted(value: str) -> str:
    shown = printable(value)
    return f'"{shown}"' if (" " in shown or not shown) else shown
