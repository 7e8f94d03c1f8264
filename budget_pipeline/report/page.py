"""The one-page HTML report for the monthly budget meeting.

Written for engineering managers who will not open the Dagster UI: headline numbers first, every
chart with a sentence saying what to look at, and nothing fetched from the network (styles and
SVG charts are inline, links point only at the export files beside the page).
"""

import math
from collections.abc import Callable
from html import escape

import pandas as pd

from budget_pipeline.report.figures import AlertDay, BudgetFigures, ReportFigures
from budget_pipeline.report.svg import burn_up, colours, mix_bars, share_bars, stacked_daily_bars
from budget_pipeline.report.tables import ACCURACY_MONTHS
from budget_pipeline.rules.attribution import UNASSIGNED, ledger_paste_lines
from budget_pipeline.rules.forecast import ACCURACY_DAYS, TOTAL
from budget_pipeline.rules.forecast_readout import AT_RISK
from budget_pipeline.rules.idle_seats import (
    BARELY_ACTIVE,
    COMPLETELY_IDLE,
    NEVER_REPORTED_MEANING,
    NEXT_STEP,
    NO_CLAUDE_CODE_USE,
    OTHER_ACTIVITY,
    listed_monthly_cost,
)
from budget_pipeline.rules.seat_value import seats_on_other_surfaces
from budget_pipeline.warehouse.tables import FORECAST_OVER_BUDGET, OVER_BUDGET

NEVER_SEEN = f"not reported by the API — {NEVER_REPORTED_MEANING}: ask how this person signs in"
NEVER_ACTIVE = "never active on any Claude surface"


def status_meanings(min_lines: int) -> dict[str, str]:
    """What each status means (then NEXT_STEP: what it asks of the people who decide);
    `min_lines` is the idle-seat rule's threshold of lines added."""
    return {
        COMPLETELY_IDLE: "no session, and no other Claude use reported",
        NO_CLAUDE_CODE_USE: "the seat is used for other Claude surfaces (chat, Cowork, "
        "Office…), not for Claude Code",
        BARELY_ACTIVE: f"sessions but fewer than {min_lines} lines added",
    }


# Where the source reports every member, a seat never seen is the clearest case of a seat nobody
# uses.
NEVER_ACTIVE_MEANING = (
    "no activity on any Claude surface since the first day: the seat has never been used — "
    f"{NEXT_STEP[COMPLETELY_IDLE]}"
)
NOT_A_REVIEW = (
    "This list is for a conversation about who needs a seat, not for performance reviews: "
    "people on leave, in review-only roles or signing in through a subscription login look idle "
    "here."
)

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
 color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1000px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;padding-top:12px;
 border-top:2px solid #eaeef2}
.sub{color:#57606a;margin:0 0 18px}.note{color:#57606a;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:8px 0 4px}
.card{border:1px solid #d0d7de;border-radius:8px;padding:10px 12px}
.card .label{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:650;margin:2px 0}.card .detail{font-size:12px;color:#57606a}
.card.wide{grid-column:1/-1}.card.wide .detail{font-size:14px}
h3{font-size:16px;margin:20px 0 6px}
.warn{color:#c62828}.good{color:#1a7f37}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}
th{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.03em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:650;border-top:2px solid #d0d7de}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:10px;font-size:13px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.chart{margin:6px 0 4px}
.alert{border-left:4px solid #c62828;padding:4px 12px;margin:10px 0;background:#fff8f8}
ul{margin:4px 0;padding-left:20px}
.brief{font-size:16px;line-height:1.5;margin:14px 0 0}
@media print{body{background:#fff}main{padding:0}h2{break-after:avoid}}
"""


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float, cents: bool = True) -> str:
    if _missing(value):
        return "—"
    return f"${value:,.2f}" if cents else f"${value:,.0f}"


def percent(value: float, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{value:.{digits}%}"


def signed_percent(value: float) -> str:
    if _missing(value):
        return "—"
    return f"+{value:.1%}" if value >= 0 else f"−{-value:.1%}"


def signed_money(value: float) -> str:
    if _missing(value):
        return "—"
    return f"+${value:,.2f}" if value >= 0 else f"−${-value:,.2f}"


def _table(header: list[tuple[str, bool]], rows: list[list[str]], total: list[str] | None = None):
    head = "".join(f'<th class="n">{h}</th>' if n else f"<th>{h}</th>" for h, n in header)
    numeric = [n for _, n in header]

    def tr(cells: list[str], css: str = "") -> str:
        tds = "".join(
            f'<td class="n">{c}</td>' if n else f"<td>{c}</td>"
            for c, n in zip(cells, numeric, strict=True)
        )
        return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"

    body = "".join(tr(row) for row in rows) + (tr(total, "total") if total else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _records_table(records: pd.DataFrame, columns: list[tuple[str, bool, Callable]]) -> str:
    """A row per record; a column per (heading, numeric, the cell of a record): each heading
    stands beside what fills it."""
    header = [(heading, numeric) for heading, numeric, _ in columns]
    rows = [[cell(r) for _, _, cell in columns] for r in records.itertuples()]
    return _table(header, rows)


def _card(label: str, value: str, detail: str, css: str = "", wide: bool = False) -> str:
    return (
        f'<div class="card{" wide" if wide else ""}"><div class="label">{escape(label)}</div>'
        f'<div class="value {css}">{escape(value)}</div>'
        f'<div class="detail">{escape(detail)}</div></div>'
    )


def status_css(status) -> str:
    if status in AT_RISK:
        return "warn"
    return "" if _missing(status) else "good"


def row_label(workstream: str) -> str:
    return "TOTAL (organisation, seats included)" if workstream == TOTAL else workstream


def as_of_wording(b: BudgetFigures) -> str:
    """ "forecast as of 15 Mar, 16 days left", or that the month has ended."""
    if b.is_preview:
        left = f"{b.days_left} day{'s' if b.days_left != 1 else ''} left"
        return f"forecast as of {b.as_of:%d %b}, {left}"
    return f"final as of {b.as_of:%d %b}: the forecast is what was spent"


def _at_risk_wording(b: BudgetFigures) -> str:
    """ "1 workstream over its budget (mobile); 2 workstreams heading past their budget (…)"."""
    risky = b.workstreams_at_risk
    if risky.empty:
        return "no workstream heading past its budget" if b.has_budgets else ""
    parts = []
    for status, wording in ((OVER_BUDGET, "over"), (FORECAST_OVER_BUDGET, "heading past")):
        names = list(risky.loc[risky["status"] == status, "workstream"])
        if names:
            many = len(names) != 1
            parts.append(
                f"{len(names)} workstream{'s' if many else ''} {wording} "
                f"{'their' if many else 'its'} budget ({', '.join(names)})"
            )
    return "; ".join(parts)


def _budget_card(b: BudgetFigures) -> str:
    if b.as_of is None:
        return _card("Budget", "no forecast", b.missing_reason or "", wide=True)
    total = b.total
    value = (
        f"{money(total.spent_to_date_usd, cents=False)} spent · "
        f"{money(total.forecast_usd, cents=False)} forecast"
    )
    if _missing(total.budget_usd):
        organisation = (
            "no organisation budget set" if b.has_budgets else "no budgets set (budgets.csv)"
        )
    else:
        value += f" · {money(total.budget_usd, cents=False)} budget"
        organisation = (
            f"organisation {total.status} (forecast {percent(total.forecast_vs_budget, 0)} "
            "of budget)"
        )
    detail = "; ".join(part for part in (organisation, _at_risk_wording(b)) if part)
    return _card(f"Budget — {as_of_wording(b)}", value, detail, status_css(total.status), wide=True)


def _budget_point(b: BudgetFigures) -> str:
    if b.as_of is None:
        return f"No budget forecast this month: {escape(b.missing_reason or '')} — section 1."
    total = b.total
    if b.is_preview:
        text = (
            f"As of {b.as_of:%d %b} ({b.days_left} days left) the month is forecast to cost "
            f"<strong>{money(total.forecast_usd)}</strong>"
        )
    else:
        text = f"The month cost <strong>{money(total.forecast_usd)}</strong>"
    if not _missing(total.budget_usd):
        text += (
            f" against the organisation's budget of {money(total.budget_usd)}: "
            f"<strong>{escape(total.status)}</strong>"
        )
    risky = _at_risk_wording(b)
    return text + (f"; {escape(risky)}" if risky else "") + " — section 1."


def _accuracy_table(b: BudgetFigures) -> str:
    days = ", ".join(str(day) for day in ACCURACY_DAYS[:-1]) + f" and {ACCURACY_DAYS[-1]}"
    intro = (
        f'<h3>How far to trust the forecast</h3><p class="note">Mean absolute percentage error '
        f"of the forecasts made on days {days} of each fully loaded month against what that "
        "month finally cost (TOTAL with its seats): 5% means those forecasts were 5% off on "
        "average. A workstream that spent nothing in a month has no figure.</p>"
    )
    if b.accuracy.empty:
        return intro + (
            f"<p>No fully loaded month yet among this one and the {ACCURACY_MONTHS} before it: "
            "the accuracy appears once every day of a month is loaded.</p>"
        )
    months = sorted(b.accuracy["month"].unique())
    mape = b.accuracy.pivot_table(index="workstream", columns="month", values="mape")
    order = [name for name in mape.index if name not in (UNASSIGNED, TOTAL)]
    order += [name for name in (UNASSIGNED, TOTAL) if name in mape.index]
    rows = [
        [escape(row_label(name)), *(percent(mape.at[name, month]) for month in months)]
        for name in order
        if name != TOTAL
    ]
    total = (
        [escape(row_label(TOTAL)), *(percent(mape.at[TOTAL, month]) for month in months)]
        if TOTAL in mape.index
        else None
    )
    header = [("Accuracy of", False), *((f"{m:%b %Y}", True) for m in pd.DatetimeIndex(months))]
    return intro + _table(header, rows, total)


def _budget_section(b: BudgetFigures) -> str:
    heading = "<h2>1. Budget: spent and forecast</h2>"
    if b.as_of is None:
        return (
            heading + f'<p><strong class="warn">No forecast for {escape(b.month.label)}:</strong> '
            f"{escape(b.missing_reason or '')}.</p>" + _accuracy_table(b)
        )
    if b.is_preview:
        state = (
            f'<p><strong class="warn">Preview — {escape(as_of_wording(b))}</strong> in '
            f"{escape(b.month.label)}: the month has not ended, so the forecast is what was spent "
            "so far plus, for each remaining day, that weekday's average spend over the last "
            "four weeks.</p>"
        )
    else:
        state = (
            f"<p><strong>{escape(b.month.label)} has ended</strong>: as of "
            f"{b.as_of:%d %B} the forecast is what was spent.</p>"
        )
    if b.later_days_reason:
        state += (
            f'<p class="note">Days after {b.as_of:%d %B} have no forecast: '
            f"{escape(b.later_days_reason)}.</p>"
        )
    if not b.has_budgets:
        state += (
            f"<p><strong>No budgets set for {escape(b.month.label)}</strong>: add rows to "
            "<code>budgets.csv</code> (workstream, month, budget_usd) to compare the forecast "
            "with a budget.</p>"
        )

    def cells(r) -> list[str]:
        return [
            escape(row_label(r.workstream)),
            money(r.spent_to_date_usd),
            money(r.forecast_usd),
            money(r.budget_usd),
            percent(r.forecast_vs_budget),
            f'<span class="{status_css(r.status)}">{escape(r.status)}</span>'
            if not _missing(r.status)
            else "no budget",
        ]

    header = [
        ("Forecast for", False),
        ("Spent to date", True),
        ("Forecast", True),
        ("Budget", True),
        ("Forecast ÷ budget", True),
        ("Status", False),
    ]
    rows = [cells(r) for r in b.workstream_rows.itertuples()]
    total = b.total
    table = _table(header, rows, cells(total) if total is not None else None)
    chart = burn_up(
        b.burn_up["spent_to_date_usd"],
        days=b.month.days,
        forecast=float(total.forecast_usd),
        budget=None if _missing(total.budget_usd) else float(total.budget_usd),
        title="Organisation spend so far against its budget (burn-up)",
        x_label=f"Day of {b.month.label} (UTC)",
    )
    return (
        heading
        + state
        + '<p class="note">TOTAL is all token spend, Unassigned included, plus every paid seat '
        "for the whole month from the 1st. <em>over budget</em>: spent more than the budget "
        "already; <em>forecast over budget</em>: heading past it by the month's end.</p>"
        + table
        + f'<div class="chart">{chart}</div>'
        + _accuracy_table(b)
    )


def _headline(f: ReportFigures) -> str:
    change = f.token_change_ratio
    change_css = "" if _missing(change) else ("warn" if change > 0.1 else "good")
    if _missing(f.previous_token_cost_usd):
        previous = f"{f.month.previous.label}: not loaded"
    elif f.whole_months:
        previous = f"{f.month.previous.label}: {money(f.previous_token_cost_usd)}"
    else:
        previous = f"per day; {f.month.previous.label} has {f.previous_days_loaded} days loaded"
    over = len(f.days_over_threshold)
    return (
        '<div class="cards">'
        + "".join(
            [
                _budget_card(f.budget),
                _card(
                    "Spent this month",
                    money(f.total_cost_usd, cents=False),
                    f"tokens {money(f.token_cost_usd)} + {f.seats} seats {money(f.seat_cost_usd)}",
                ),
                _card("Token spend vs last month", signed_percent(change), previous, change_css),
                _card(
                    "Idle seats",
                    f"{money(f.idle_monthly_cost_usd, cents=False)}/mo",
                    f"{len(f.idle_seats)} seats as of {f.idle_as_of:%d %b}"
                    if f.idle_as_of is not None
                    else "no verdict this month (needs 14 loaded days)",
                    "warn" if len(f.idle_seats) else "",
                ),
                _card(
                    "Spend alerts",
                    str(len(f.alerts)),
                    f"Unassigned {percent(f.unassigned_share_of_month)} of tokens; "
                    f"{over} day{'s' if over != 1 else ''} over {f.unassigned_threshold:.0%}",
                    "warn" if f.alerts else "good",
                ),
            ]
        )
        + "</div>"
    )


def _in_brief(f: ReportFigures) -> str:
    """The page in up to seven sentences, for the reader who stops after the first screen."""
    points = [
        f"Claude Code cost <strong>{money(f.total_cost_usd)}</strong> in "
        f"{escape(f.month.label)}: {money(f.token_cost_usd)} of tokens and "
        f"{money(f.seat_cost_usd)} for {f.seats} seats."
    ]
    points.append(_budget_point(f.budget))
    if not _missing(f.token_change_ratio):
        points.append(
            f"Token spend {'rose' if f.token_change_ratio >= 0 else 'fell'} "
            f"<strong>{abs(f.token_change_ratio):.1%}</strong> against "
            f"{escape(f.month.previous.label)} ({escape(f.change_basis)})."
        )
    if not f.workstreams.empty and f.token_cost_usd > 0:
        top = f.workstreams.iloc[0]
        points.append(
            f"{escape(top.workstream)} spent most: {money(top.cost_usd)} "
            f"({percent(top.share)} of tokens)."
        )
    if f.alerts:
        days = "; ".join(
            f"{a.day:%d %b}"
            + (
                f" ({escape(a.movers['workstream'][0]['name'])} "
                f"{signed_money(a.movers['workstream'][0]['change_usd'])})"
                if a.movers["workstream"]
                else ""
            )
            for a in f.alerts
        )
        points.append(
            f"The spend alert fired on {len(f.alerts)} day{'s' if len(f.alerts) != 1 else ''}: "
            f"{days} — section 4."
        )
    else:
        points.append("The spend alert did not fire.")
    if len(f.idle_seats):
        points.append(
            f"{len(f.idle_seats)} paid seats look unused "
            f"({money(f.idle_monthly_cost_usd, cents=False)}/month): worth a conversation."
        )
    if not f.unassigned_actors.empty:
        count = len(f.unassigned_actors)
        who = "person or API key is" if count == 1 else "people or API keys are"
        points.append(
            f"{count} {who} missing from the ledger "
            f"({money(float(f.unassigned_actors['cost_usd'].sum()))} of spend): section 3."
        )
    return '<ul class="brief">' + "".join(f"<li>{p}</li>" for p in points) + "</ul>"


def _workstream_section(f: ReportFigures, series_colours: dict[str, str]) -> str:
    rows = [
        [
            f'<span class="swatch" style="background:{series_colours[r.workstream]}"></span>'
            f"{escape(r.workstream)}",
            money(r.cost_usd),
            percent(r.share),
            money(r.previous_cost_usd),
            signed_money(r.change_usd),
            signed_percent(r.change_ratio),
        ]
        for r in f.workstreams.itertuples()
    ]
    total = [
        "Total tokens",
        money(f.token_cost_usd),
        "100.0%" if f.token_cost_usd > 0 else "—",
        money(f.previous_token_cost_usd),
        signed_money(f.token_cost_usd - f.previous_token_cost_usd) if f.whole_months else "—",
        signed_percent(f.token_change_ratio),
    ]
    header = [
        ("Workstream", False),
        (escape(f.month.label), True),
        ("Share", True),
        (escape(f.month.previous.label), True),
        ("Change", True),
        ("Change %", True),
    ]
    chart = stacked_daily_bars(
        f.daily_cost,
        title="Token spend per day, by workstream",
        x_label=f"Day of {f.month.label} (UTC)",
        series_colours=series_colours,
        marked_days=[a.day for a in f.alerts],
    )
    return (
        "<h2>2. Where the money went</h2>"
        '<p class="note">Token spend per workstream of the ownership ledger '
        "(<code>workstreams.csv</code>); people missing from it land in Unassigned. "
        "Seats are a fixed monthly cost and are not in these rows.</p>"
        + _table(header, rows, total)
        + f'<p class="note">Change against {escape(f.month.previous.label)}: '
        f"{escape(f.change_basis)}"
        + (
            ""
            if f.whole_months
            else f" ({len(f.days_loaded)} of {len(f.month.days)} days of this month and "
            f"{f.previous_days_loaded} of {len(f.month.previous.days)} of the previous one are "
            "loaded, so totals are not comparable)"
        )
        + ".</p>"
        + f'<div class="chart">{chart}</div>'
    )


def _unassigned_section(f: ReportFigures) -> str:
    chart = share_bars(
        f.unassigned_share,
        threshold=f.unassigned_threshold,
        title="Unassigned share of each day's token spend",
        x_label=f"Day of {f.month.label} (UTC)",
    )
    over = len(f.days_over_threshold)
    verdict = (
        f'<p><strong class="warn">{over} day{"s" if over != 1 else ""} above '
        f"{f.unassigned_threshold:.0%}</strong>: add the people below to the ledger.</p>"
        if over
        else f'<p><strong class="good">No day above {f.unassigned_threshold:.0%}</strong>: '
        "the ledger is up to date enough; the people below are still worth adding.</p>"
    )
    if f.unassigned_actors.empty:
        ledger = "<p>Everyone with usage this month is in the ledger.</p>"
    else:
        rows = [[escape(r.actor), money(r.cost_usd)] for r in f.unassigned_actors.itertuples()]
        lines = "\n".join(ledger_paste_lines(f.unassigned_actors["actor"]))
        ledger = (
            _table([("Not in the ledger (largest first)", False), ("Spend", True)], rows)
            + '<p class="note">Ready to paste into <code>workstreams.csv</code> — '
            "write each one's workstream after the comma:</p>" + f"<pre>{escape(lines)}</pre>"
        )
    return (
        "<h2>3. Spend nobody owns (Unassigned)</h2>"
        + verdict
        + f'<div class="chart">{chart}</div>'
        + ledger
    )


def _movers(items: list[dict]) -> str:
    if not items:
        return "nothing grew"
    return ", ".join(
        f"{escape(m['name'])} {signed_money(m['change_usd'])} "
        f"({money(m['last_week_usd'])} → {money(m['today_usd'])})"
        for m in items
    )


def _alert(alert: AlertDay) -> str:
    return (
        f'<div class="alert"><strong>{alert.day:%A %d %B}: {money(alert.cost_usd)}</strong> — '
        f"{alert.same_weekday_ratio:.2f}× the same weekday last week "
        f"({money(alert.same_weekday_last_week_usd)}) and {alert.ma7_ratio:.2f}× the mean of the "
        f"7 days before ({money(alert.ma7_usd)}).<ul>"
        f"<li>Workstreams that grew most: {_movers(alert.movers['workstream'])}</li>"
        f"<li>People / API keys: {_movers(alert.movers['actor'])}</li>"
        f"<li>Models: {_movers(alert.movers['model'])}</li></ul></div>"
    )


def _alerts_section(f: ReportFigures) -> str:
    intro = (
        '<p class="note">The alert fires only when a day costs at least $50 <em>and</em> 1.6× the '
        "same weekday a week earlier <em>and</em> 1.5× the mean of the 7 days before, so each "
        "one is worth a question to the team that grew.</p>"
    )
    body = "".join(_alert(a) for a in f.alerts) or "<p>No alert this month.</p>"
    return "<h2>4. Days the spend alert fired</h2>" + intro + body


def _last_active(row, console_source: bool = True) -> str:
    if pd.notna(row.last_active):
        return f"{row.last_active:%Y-%m-%d}"
    return NEVER_SEEN if console_source else NEVER_ACTIVE


def _status_meanings(f: ReportFigures) -> str:
    """What each status shown means for the decision, and for a seat never seen: on the Console
    source a question about its sign-in, elsewhere a seat never used."""
    items = [
        f"<li><em>{escape(status)}</em>: {escape(meaning)} — {escape(NEXT_STEP[status])}.</li>"
        for status, meaning in status_meanings(f.idle_min_lines).items()
        if (f.idle_seats["status"] == status).any()
    ]
    if f.idle_seats["last_active"].isna().any():
        items.append(
            f"<li><em>never seen</em>: {escape(NEVER_SEEN)} before counting the seat as a "
            "saving.</li>"
            if f.console_source
            else f"<li><em>{NEVER_ACTIVE}</em>: {escape(NEVER_ACTIVE_MEANING)}.</li>"
        )
    return f"<ul>{''.join(items)}</ul>"


def _other_activity(row) -> str:
    other = getattr(row, OTHER_ACTIVITY)
    return "" if pd.isna(other) else f"{int(other):,}"


def _idle_section(f: ReportFigures) -> str:
    if f.idle_as_of is None:
        body = (
            "<p>No verdict this month: a verdict needs the 14 days before it loaded, "
            "and no day of this month has them.</p>"
        )
    elif f.idle_seats.empty:
        body = f"<p>As of {f.idle_as_of:%d %B %Y} every paid seat was used.</p>"
    else:
        # Only a source that reports other Claude surfaces fills the column.
        with_other = OTHER_ACTIVITY in f.idle_seats and f.idle_seats[OTHER_ACTIVITY].notna().any()
        rows = [
            [
                escape(r.email),
                escape(r.workstream),
                f'<span class="{"warn" if r.status == COMPLETELY_IDLE else ""}">'
                f"{escape(r.status)}</span>",
                str(r.sessions),
                str(r.lines_added),
                *([_other_activity(r)] if with_other else []),
                escape(_last_active(r, f.console_source)),
                escape(r.reason) if isinstance(r.reason, str) else "",
                money(r.monthly_cost_usd, cents=False),
            ]
            for r in f.idle_seats.itertuples()
        ]
        total = [
            "Total",
            *[""] * (7 if with_other else 6),
            money(f.idle_monthly_cost_usd, cents=False),
        ]
        header = [
            ("Seat", False),
            ("Workstream", False),
            ("Status", False),
            ("Sessions", True),
            ("Lines added", True),
            *([("Other Claude use", True)] if with_other else []),
            ("Last active", False),
            ("Note", False),
            ("Per month", True),
        ]
        body = (
            f"<p>Over the 14 days up to {f.idle_as_of:%d %B %Y}, what each status asks:</p>"
            + _status_meanings(f)
            + f"<p>Together they cost <strong>{money(f.idle_monthly_cost_usd, cents=False)} per "
            "month</strong>.</p>" + _table(header, rows, total)
        )
    return (
        "<h2>5. Seats nobody uses</h2>" + body + f'<p class="note"><strong>{NOT_A_REVIEW}'
        "</strong></p>"
    )


def _value_section(f: ReportFigures, order: list[str]) -> str:
    table = _records_table(
        f.value,
        [
            ("Workstream", False, lambda r: escape(r.workstream)),
            ("Token spend", True, lambda r: money(r.cost_usd)),
            ("PRs", True, lambda r: f"{r.pull_requests:,}"),
            ("Per PR", True, lambda r: money(r.cost_per_pull_request_usd)),
            ("Per commit", True, lambda r: money(r.cost_per_commit_usd)),
            ("Per 1,000 lines", True, lambda r: money(r.cost_per_1k_lines_added_usd)),
            ("Edits accepted", True, lambda r: percent(r.edit_accept_rate)),
            ("Caching saved", True, lambda r: money(r.cache_savings_usd)),
        ],
    )
    saved = float(f.value["cache_savings_usd"].sum())
    chart = mix_bars(f.model_mix, title="Model mix: share of each workstream's cost", order=order)
    return (
        "<h2>6. What we get for it</h2>"
        '<p class="note">Pull requests, commits and lines are those the API credits to Claude '
        "Code. <em>Edits accepted</em>: accepted ÷ (accepted + rejected) decisions on edit, "
        "multi-edit, write and notebook-edit proposals. <em>Caching saved</em>: cache-read "
        "tokens priced as plain input minus their cache-read price (prices.csv). "
        "— means nothing to divide by.</p>"
        + table
        + f"<p>Prompt caching saved <strong>{money(saved)}</strong> this month.</p>"
        + f'<div class="chart">{chart}</div>'
    )


NO_BILL_CONSOLE = (
    "No bill for this month yet: Anthropic's Usage and Cost Analytics API has no row for its "
    "days, or is closed to the organisation (see the <em>billed_cost_available</em> check). Every "
    "figure above is a list-price estimate."
)


def _no_bill_text(f: ReportFigures) -> str:
    """Section 7 when the month has no bill row, in what that means for the source's figures: on
    the Console source they are list-price estimates either way; on the Enterprise source token
    spend is the bill, so a closed bill puts its days at list prices while an open bill without
    rows means $0 (the seats cover the usage, or the bill has not caught up)."""
    if f.console_source:
        return NO_BILL_CONSOLE
    closed = f.seat_value.days_not_billed if f.seat_value is not None else 0
    loaded = len(f.days_loaded)
    zero = (
        "usage the seats cover is never billed, and usage beyond them appears as the bill "
        "catches up (billed figures settle over about 30 days; the weekly bill schedule "
        "re-fetches them)."
    )
    worth = " What the usage was worth at list prices is in section 8."
    if not closed:
        return (
            "No bill rows for this month yet: Anthropic's Usage and Cost Analytics API is open to "
            "the organisation and has billed none of its days. Token spend is what the bill "
            f"charges, so it is $0 so far: {zero}{worth}"
        )
    text = (
        "No bill for this month: Anthropic's Usage and Cost Analytics API is closed to the "
        "organisation (see the <em>billed_cost_available</em> check), so the token spend of "
        f"{closed} of the {loaded} loaded day(s) is the usage at list prices (tokens × "
        "prices.csv), not what is billed."
    )
    if closed < loaded:
        text += f" The other days' bill was open and has no row: their token spend is $0; {zero}"
    return text + worth


def _bill_section(f: ReportFigures) -> str:
    b = f.bill
    heading = "<h2>7. The bill</h2>"
    if b is None or not b.has_bill:
        return heading + f"<p>{_no_bill_text(f)}</p>"
    without = (
        f" {b.days_without_bill} loaded day(s) have no bill yet and are left out on both sides."
        if b.days_without_bill
        else ""
    )
    gap = (b.estimate_usd - b.billed_list_usd) / b.billed_list_usd if b.billed_list_usd else None
    rows = [
        ["Estimate (tokens × prices.csv)", money(b.estimate_usd)],
        ["Billed at list price", money(b.billed_list_usd)],
        ["Billed (after discounts, before credits)", money(b.billed_usd)],
        ["Discount received (1 − billed ÷ billed at list)", percent(b.discount)],
        ["Estimate against billed at list", signed_percent(gap)],
    ]
    text = (
        heading + f'<p class="note">Over the {b.days_with_bill} day(s) of the month Anthropic has '
        f"billed.{without} Both the estimate and the billed list amount are at list price: they "
        "agree when prices.csv is right. Billed figures settle over about 30 days.</p>"
        + _table([("The bill", False), ("This month", True)], rows)
    )
    if b.days_outside.empty:
        return text + "<p>Every billed day is within the tolerance.</p>"
    days = ", ".join(f"{day:%Y-%m-%d}" for day in b.days_outside["usage_date"])
    gaps = _records_table(
        b.model_gaps,
        [
            ("Model", False, lambda r: escape(r.model)),
            ("Estimate", True, lambda r: money(r.estimate_usd)),
            ("Billed at list", True, lambda r: money(r.billed_list_usd)),
            ("Gap", True, lambda r: signed_money(r.gap_usd)),
            ("Gap share", True, lambda r: signed_percent(r.gap_share)),
        ],
    )
    return (
        text + f"<p><strong>{len(b.days_outside)} day(s) outside the tolerance</strong>: "
        f"{escape(days)}. Over those days, per model, largest gap first — a model at the top "
        "is one whose row in prices.csv no longer matches Anthropic's price:</p>" + gaps
    )


SEAT_VALUE_HEADING = "<h2>8. What the seats delivered</h2>"
# The Console source bills every token: its list-price worth and its cost are the same figure,
# so there is no seat to set the usage against.
SEAT_VALUE_CONSOLE = (
    "<p>This section is for organisations that pay per seat (Claude Enterprise, read with the "
    "enterprise source). This organisation is read with the Claude Code Analytics API and pays "
    "per token: what its usage is worth at list prices is section 7's estimate.</p>"
)


def worth_against_paid(v) -> str:
    """ "$X more than was paid" or "$X less than was paid": the difference in plain words."""
    difference = v.worth_minus_paid_usd
    if abs(difference) < 0.005:
        return "exactly what was paid"
    return f"{money(abs(difference))} {'more' if difference > 0 else 'less'} than was paid"


def _seat_value_section(f: ReportFigures) -> str:
    v = f.seat_value
    if v is None:
        return SEAT_VALUE_HEADING + SEAT_VALUE_CONSOLE
    days = f"{v.days} loaded day{'s' if v.days != 1 else ''}"
    ratio = v.worth_per_dollar_paid
    per_dollar = (
        "Nothing was paid, so there is no ratio."
        if _missing(ratio)
        else f"Each dollar paid bought {money(ratio)} of usage at list prices: the usage was "
        f"worth {worth_against_paid(v)}."
    )
    text = (
        SEAT_VALUE_HEADING + f"<p>Over the {days} of {escape(f.month.label)}, the seats delivered "
        f"<strong>{money(v.list_price_worth_usd)}</strong> of Claude Code usage at list prices "
        f"for <strong>{money(v.paid_usd)}</strong> paid: seats {money(v.seat_cost_usd)} + billed "
        f"beyond the seats {money(v.billed_usd)}. {per_dollar}</p>"
    )
    rows = [
        ["Usage at list prices (tokens × prices.csv)", money(v.list_price_worth_usd)],
        [f"Seats ({f.seats}, one month each, seats.csv)", money(v.seat_cost_usd)],
        ["Billed beyond the seats", money(v.billed_usd)],
        ["Paid (seats + billed)", money(v.paid_usd)],
        ["Usage at list prices ÷ paid", "—" if _missing(ratio) else f"{ratio:.2f}×"],
        ["Usage at list prices − paid", signed_money(v.worth_minus_paid_usd)],
    ]
    text += _table([("What the seats delivered", False), ("This month", True)], rows)
    notes = [
        "List prices price Claude Code's tokens only: chat, Cowork, Office, Design, Science and "
        "web search have no list price in the API, so the seats deliver more than this figure; "
        "their use is counted below.",
        "A model prices.csv lacks is worth the bill's list amount. API keys' and service "
        "accounts' usage is on both sides: its worth, and its bill.",
    ]
    if not f.complete:
        notes.append(
            "The seats are a whole month while the usage covers the loaded days only: the ratio "
            "grows as the month's days are loaded."
        )
    if v.days_not_billed:
        notes.append(
            f"{v.days_not_billed} day(s) had no bill (closed to the organisation): their usage "
            "counts as paid at list price."
        )
    text += f'<p class="note">{" ".join(escape(note) for note in notes)}</p>'
    if f.surface_use is not None:
        text += "<h3>Every surface the seats were used on</h3>" + _records_table(
            f.surface_use,
            [
                ("Surface", False, lambda r: escape(r.surface)),
                ("Members who used it", True, lambda r: f"{r.members:,}"),
                ("Use this month", True, lambda r: f"{r.count:,} {escape(r.unit)}"),
            ],
        )
    other = seats_on_other_surfaces(f.idle_seats)
    if not other.empty:
        many = len(other) != 1
        text += (
            f"<p>{len(other)} seat{'s' if many else ''} "
            f"({money(listed_monthly_cost(other), cents=False)}/month) "
            f"{'were' if many else 'was'} used for other Claude surfaces and not for Claude Code "
            f"in the idle-seat window up to {f.idle_as_of:%d %B}: "
            f"{escape(', '.join(other['email']))}. "
            "They deliver chat, Cowork, Office…, none of it in the list-price figure above — "
            f"{escape(NEXT_STEP[NO_CLAUDE_CODE_USE])} (section 5).</p>"
        )
    return text


def _token_spend_reading(f: ReportFigures) -> str:
    """What the month's token spend is, as the source states it: on the Console source a
    list-price estimate, on the Enterprise source what the bill charged (list prices are then
    only what the usage was worth)."""
    seats = (
        f"one month of each of the {f.seats} seats in seats.csv ({money(f.seat_cost_usd)}) = "
        f"{money(f.total_cost_usd)}"
    )
    if f.console_source:
        return (
            f"<li><strong>Spent this month</strong> = token spend of the loaded days "
            f"({money(f.token_cost_usd)}, prices.csv; the API's own estimate for unpriced "
            f"models) + {seats}. The FOCUS export's EffectiveCost adds up to this figure.</li>"
        )
    v = f.seat_value
    closed = (
        f" On {v.days_not_billed} day(s) the bill was closed to the organisation: their tokens "
        "count at list price instead."
        if v is not None and v.days_not_billed
        else ""
    )
    worth = f" ({money(v.list_price_worth_usd)} this month, section 8)" if v is not None else ""
    return (
        f"<li><strong>Spent this month</strong> = what Anthropic's bill charged for the tokens "
        f"of the loaded days ({money(f.token_cost_usd)}, the Usage and Cost Analytics API; $0 "
        f"for usage a seat covers) + {seats}.{closed} The FOCUS export's EffectiveCost adds up "
        "to this figure; its token rows' BilledCost is the bill.</li>"
        "<li>Token spend here is not a price-list estimate: list prices (prices.csv) only say "
        f"what the usage was worth{worth}, which the seats and the bill are set against.</li>"
    )


def _files_section(f: ReportFigures, exports: dict[str, str]) -> str:
    links = "".join(
        f'<li><a href="{escape(name)}">{escape(name)}</a> — {escape(what)}</li>'
        for what, name in exports.items()
    )
    return (
        "<h2>How to read these numbers</h2><ul>"
        + _token_spend_reading(f)
        + f"<li>Days are UTC. {len(f.days_loaded)} of {len(f.month.days)} days of "
        f"{escape(f.month.label)} are loaded; {f.previous_days_loaded} of "
        f"{len(f.month.previous.days)} of {escape(f.month.previous.label)}.</li>"
        "</ul><p>Files next to this page:</p><ul>" + links + "</ul>"
    )


def render_page(figures: ReportFigures, exports: dict[str, str], generated_at: str) -> str:
    """The whole page. `exports` maps a description to the file name of each export."""
    f = figures
    order = list(f.workstreams["workstream"])
    series_colours = colours(order, grey=UNASSIGNED)
    partial = (
        ""
        if f.complete
        else f' <strong class="warn">Incomplete month: {len(f.days_loaded)} of '
        f"{len(f.month.days)} days loaded.</strong>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty inline icon: browsers would otherwise request /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>Claude Code budget — {escape(f.month.label)}</title>"
        f"<style>{STYLE}</style></head><body><main>"
        f"<h1>Claude Code budget — {escape(f.month.label)}</h1>"
        f'<p class="sub">For the monthly budget meeting. All amounts in US dollars. '
        f"Generated {escape(generated_at)} from the budget warehouse.{partial}</p>"
        + _headline(f)
        + _in_brief(f)
        + _budget_section(f.budget)
        + _workstream_section(f, series_colours)
        + _unassigned_section(f)
        + _alerts_section(f)
        + _idle_section(f)
        + _value_section(f, order)
        + _bill_section(f)
        + _seat_value_section(f)
        + _files_section(f, exports)
        + "</main></body></html>"
    )
