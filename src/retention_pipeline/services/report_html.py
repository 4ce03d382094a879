"""The compliance report as one HTML page that people would rather look at than read.

Rules this module keeps:

* self-contained: one file, CSS inline, charts drawn as inline SVG here; no script, no
  font, image or style sheet fetched from anywhere, so the page opens offline and years
  later exactly as it was written;
* every value from the report goes through ``html.escape`` (ids, evidence, labels);
* colour is never the only signal: each matrix cell also says its verdict in words, each
  chart has a title, an ``aria-label`` and a ``<title>`` per bar with its value;
* ids, dates, counts and bytes only, as in ``services.report``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import pandas as pd

from retention_pipeline.domain.controls import CONTROLS, INSTALLATION
from retention_pipeline.services.report import Report

LABEL_WIDTH, BAR_WIDTH, TEXT_WIDTH, ROW_HEIGHT = 200, 380, 260, 22
VERDICT_TEXT = {"compliant": "compliant", "non_compliant": "non-compliant",
                "not_applicable": "n/a"}  # fmt: skip
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
.meta{color:#555}.counts{display:flex;gap:1rem;margin:1rem 0}
.count{padding:.6rem 1rem;border-radius:6px;font-size:1.1rem}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ccd;padding:.25rem .5rem}
th{background:#eef}td.v{text-align:center;font-weight:600}
.compliant{background:#cdebd3;color:#0b5d1e}.non_compliant{background:#f6c9c9;color:#8a1010}
.not_applicable{background:#eceff3;color:#555}.none{color:#aaa}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(860px,1fr));gap:1.5rem}
figure{margin:0}figcaption{font-weight:600;margin-bottom:.3rem}
td.evidence{font-family:monospace;font-size:.75rem;max-width:60rem;word-break:break-all}
svg text{font-size:11px;fill:#1b1f24}
"""


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, an optional limit tick, and its state (CSS colour)."""

    label: str
    value: float
    text: str
    limit: float | None = None
    state: str = "neutral"


def render(report: Report) -> str:
    """The whole page as a string."""
    counts = report.summary
    when = escape(report.generated_at.replace(microsecond=0).isoformat())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Compliance report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Compliance report</h1>",
        f'<p class="meta">Generated at <time datetime="{when}">{when}</time> (UTC), '
        f"{len(report.clients)} client(s), {len(report.results)} control result(s).</p>",
        '<div class="counts" id="summary">',
        *(
            f'<span class="count {v}">{escape(VERDICT_TEXT[v])}: {counts[v]}</span>'
            for v in ("compliant", "non_compliant", "not_applicable")
        ),
        "</div>",
        "<h2>Compliance matrix</h2>",
        matrix(report.results),
        "<h2>Charts</h2>",
        '<div class="charts">',
        *charts(report),
        "</div>",
        "<h2>Results and evidence</h2>",
        results_table(report.results),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def matrix(results: pd.DataFrame) -> str:
    """Clients down, controls C1..C10 across; each cell coloured and worded."""
    controls = [c.id for c in CONTROLS]
    by_cell = {(r.client, r.control): r.verdict for r in results.itertuples()}
    clients = sorted({str(c) for c in results["client"]}, key=lambda c: (c == INSTALLATION, c))
    head = "".join(
        f'<th scope="col" title="{escape(c.title)}">{escape(c.id)}</th>' for c in CONTROLS
    )
    rows = []
    for client in clients:
        cells = []
        for control in controls:
            verdict = by_cell.get((client, control))
            if verdict is None:
                cells.append('<td class="v none">&mdash;</td>')
            else:
                text = escape(VERDICT_TEXT.get(str(verdict), str(verdict)))
                cells.append(f'<td class="v {escape(str(verdict))}">{text}</td>')
        label = "installation (*)" if client == INSTALLATION else client
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{"".join(cells)}</tr>')
    return (
        '<table id="compliance-matrix"><thead><tr><th scope="col">client</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def results_table(results: pd.DataFrame) -> str:
    """Every result with its full evidence (compact JSON)."""
    rows = []
    for r in results.itertuples():
        evidence = json.dumps(r.evidence, sort_keys=True, separators=(", ", ": "), default=str)
        rows.append(
            f"<tr><td>{escape(str(r.client))}</td><td>{escape(str(r.control))}</td>"
            f"<td>{escape(str(r.title))}</td>"
            f'<td class="v {escape(str(r.verdict))}">'
            f"{escape(VERDICT_TEXT.get(str(r.verdict), str(r.verdict)))}</td>"
            f'<td class="evidence">{escape(evidence)}</td></tr>'
        )
    return (
        '<table id="results"><thead><tr><th>client</th><th>control</th><th>title</th>'
        f"<th>verdict</th><th>evidence</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def charts(report: Report) -> list[str]:
    """The four charts, each in its own figure."""
    facts = report.clients
    return [
        figure("chart-backup-age", "Backup age against schedule (hours)", _age_bars(facts)),
        figure("chart-storage", "Storage per location", _storage_bars(report.storage)),
        figure("chart-retention", "Retention horizon (days)", _retention_bars(facts)),
        figure("chart-erasure", "Erasure deadlines (days left)", _erasure_bars(facts)),
    ]


def _age_bars(facts: pd.DataFrame) -> list[Bar]:
    bars = []
    for r in facts.itertuples():
        age, allowed = _num(r.backup_age_hours), _num(r.allowed_age_hours)
        if age is None:
            bars.append(Bar(str(r.client), 0.0, "no backup", allowed, "none"))
            continue
        state = "neutral" if allowed is None else ("ok" if age <= allowed else "bad")
        limit = f" / allowed {allowed:g} h" if allowed is not None else ""
        bars.append(Bar(str(r.client), age, f"{age:g} h{limit}", allowed, state))
    return bars


def _storage_bars(storage: pd.DataFrame) -> list[Bar]:
    totals = storage.groupby("location", as_index=False).agg(
        bytes=("bytes", "sum"), objects=("objects", "sum")
    )
    return [
        Bar(str(r.location), float(r.bytes), f"{human_bytes(int(r.bytes))}, {r.objects} objects")
        for r in totals.itertuples()
    ]


def _retention_bars(facts: pd.DataFrame) -> list[Bar]:
    bars = []
    for r in facts.itertuples():
        for kind, oldest, max_age in (
            ("backups", r.oldest_backup_days, r.backup_max_age_days),
            ("archives", r.oldest_archive_days, r.archive_max_age_days),
        ):
            value, limit = _num(oldest), _num(max_age)
            if value is None and limit is None:
                continue
            state = "neutral" if limit is None or value is None else (
                "ok" if value <= limit else "bad")  # fmt: skip
            text = f"oldest {value:g} d" if value is not None else "nothing kept"
            text += f" / max_age {limit:g} d" if limit is not None else " / no max_age"
            bars.append(Bar(f"{r.client} {kind}", value or 0.0, text, limit, state))
    return bars


def _erasure_bars(facts: pd.DataFrame) -> list[Bar]:
    bars = []
    for r in facts.itertuples():
        left = _num(r.erasure_days_left)
        if left is None:
            continue
        bars.append(
            Bar(str(r.client), left, f"{left:g} d (due {r.erasure_deadline})", None,
                "ok" if left >= 0 else "bad")
        )  # fmt: skip
    return bars


def figure(chart_id: str, caption: str, bars: Sequence[Bar]) -> str:
    """A captioned horizontal bar chart; a chart without bars says why in words."""
    return (
        f'<figure id="{escape(chart_id)}"><figcaption>{escape(caption)}</figcaption>'
        f"{bar_chart(caption, bars)}</figure>"
    )


COLOURS = {"ok": "#3a9d5d", "bad": "#c0392b", "neutral": "#5b7db1", "none": "#b0b7c0"}


def bar_chart(title: str, bars: Sequence[Bar]) -> str:
    """Horizontal bars from a zero axis (negative values go left), limit ticks in black,
    each bar's value in words in a column on the right."""
    height = ROW_HEIGHT * max(len(bars), 1) + 30
    width = LABEL_WIDTH + BAR_WIDTH + TEXT_WIDTH
    values = [b.value for b in bars] + [b.limit for b in bars if b.limit is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    span = (high - low) or 1.0
    zero = LABEL_WIDTH + (0 - low) / span * BAR_WIDTH
    out = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height - 20}" stroke="#888"/>',
    ]
    if not bars:
        out.append(f'<text x="{LABEL_WIDTH}" y="16">nothing to show</text>')
    for i, bar in enumerate(bars):
        y = i * ROW_HEIGHT + 4
        x_end = LABEL_WIDTH + (bar.value - low) / span * BAR_WIDTH
        x, w = min(zero, x_end), max(abs(x_end - zero), 1.0)
        colour = COLOURS.get(bar.state, COLOURS["neutral"])
        out.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">'
            f"{escape(bar.label[:32])}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_HEIGHT - 8}" '
            f'fill="{colour}"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>'
        )
        if bar.limit is not None:
            lx = LABEL_WIDTH + (bar.limit - low) / span * BAR_WIDTH
            out.append(
                f'<line x1="{lx:.1f}" y1="{y - 2}" x2="{lx:.1f}" y2="{y + ROW_HEIGHT - 4}" '
                'stroke="#000" stroke-width="2"/>'
            )
        tx = LABEL_WIDTH + BAR_WIDTH + 10  # a column of its own: text never covers a bar
        out.append(f'<text x="{tx}" y="{y + 13}">{escape(bar.text[:44])}</text>')
    out.append(
        f'<text x="{LABEL_WIDTH}" y="{height - 6}">0 at the grey axis; '
        "black ticks mark the limit</text></svg>"
    )
    return "".join(out)


def human_bytes(size: int) -> str:
    """A byte count for people (binary units)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _num(value: Any) -> float | None:
    """A fact as a float, ``None`` when missing (NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number
