"""Charts as inline SVG strings: the page must open offline, from an e-mail attachment or a file
share, so nothing is drawn by a script or fetched from a chart library."""

import math
from html import escape

import numpy as np
import pandas as pd

# Colour-blind-safe (Okabe-Ito) first; grey is kept for Unassigned so "nobody owns it" stands out.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#7F3C8D",
    "#11A579",
)
GREY = "#9AA0A6"
LIGHT = {"#E69F00", "#56B4E9", "#F0E442", GREY}
ALERT = "#C62828"
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"


def colours(names: list[str], grey: str | None = None) -> dict[str, str]:
    """A stable colour per series; `grey` names the series drawn in grey."""
    others = [name for name in names if name != grey]
    mapping = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(others)}
    if grey in names:
        mapping[grey] = GREY
    return mapping


ROUND_STEPS = (1, 2, 2.5, 5, 10)
# A burn-up compares lines near its top (spend, forecast, budget): finer steps waste less height.
FINE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


def nice_ceiling(value: float, ticks: int = 4, steps: tuple[float, ...] = ROUND_STEPS) -> float:
    """The top of an axis at or above `value` whose `ticks` gridlines fall on round numbers
    (by default 1, 2, 2.5 or 5 × 10^k apart)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    raw_step = value / ticks
    exponent = 10 ** math.floor(math.log10(raw_step))
    step = next(s * exponent for s in steps if s * exponent >= raw_step)
    return step * ticks


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: str = "middle", **attrs) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
        f'style="{FONT};max-width:100%;height:auto">' + "".join(body) + "</svg>"
    )


def _legend(items: list[tuple[str, str]], x0: float, y: float, width: float) -> list[str]:
    body, x = [], x0
    for name, colour in items:
        item_width = 28 + 7.5 * len(name)
        if x + item_width > x0 + width:
            x, y = x0, y + 20
        body.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 17, y, name, anchor="start"))
        x += item_width
    return body


def _y_axis(
    left: float, top: float, plot_w: float, plot_h: float, top_value: float, fmt
) -> list[str]:
    body = []
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#E0E0E0" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, fmt(value), size=11, anchor="end"))
    return body


def _day_labels(days: pd.DatetimeIndex, left: float, step: float, y: float) -> list[str]:
    every = 1 if len(days) <= 16 else 2
    return [
        _text(left + step * (i + 0.5), y, str(day.day), size=10)
        for i, day in enumerate(days)
        if i % every == 0
    ]


def stacked_daily_bars(
    daily: pd.DataFrame,
    *,
    title: str,
    x_label: str,
    series_colours: dict[str, str],
    marked_days: list[pd.Timestamp] = (),
    mark_label: str = "alert",
    width: int = 960,
    height: int = 360,
) -> str:
    """Bars per day (index) stacked by series (columns), with axes, legend and a marker above
    the days in `marked_days`."""
    left, right, top = 72, 16, 28
    legend_rows = 1 + (sum(28 + 7.5 * len(str(c)) for c in daily.columns) // (width - 100))
    bottom = 58 + 20 * int(legend_rows)
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = daily.sum(axis=1)
    top_value = nice_ceiling(float(totals.max()) * 1.08 if len(totals) else 0.0)
    step = plot_w / max(len(daily), 1)
    bar = step * 0.78
    body = [_text(left, 16, title, size=13, anchor="start", font_weight="600")]
    body += _y_axis(left, top, plot_w, plot_h, top_value, lambda v: f"${v:,.0f}")
    for i, (day, row) in enumerate(daily.iterrows()):
        x = left + step * i + (step - bar) / 2
        y = top + plot_h
        for name, value in row.items():
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{series_colours[name]}"><title>{escape(str(name))} '
                f"{day:%Y-%m-%d}: ${value:,.2f}</title></rect>"
            )
        if day in set(marked_days):
            body.append(
                f'<path d="M{x + bar / 2 - 6:.1f},{y - 12:.1f} h12 l-6,9 z" fill="{ALERT}">'
                f"<title>{escape(mark_label)} {day:%Y-%m-%d}: ${totals[day]:,.2f}</title></path>"
            )
            body.append(_text(x + bar / 2, y - 15, mark_label, size=10, fill=ALERT))
    axis_y = top + plot_h
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="#555"/>'
    )
    body += _day_labels(pd.DatetimeIndex(daily.index), left, step, axis_y + 14)
    body.append(_text(left + plot_w / 2, axis_y + 32, x_label, size=12))
    body.append(
        _text(
            16,
            top + plot_h / 2,
            "US dollars per day",
            size=12,
            transform=f"rotate(-90 16 {top + plot_h / 2:.1f})",
        )
    )
    body += _legend(
        [(str(name), series_colours[name]) for name in daily.columns],
        left,
        axis_y + 54,
        plot_w,
    )
    return _svg(width, height, title, body)


def share_bars(
    shares: pd.Series,
    *,
    threshold: float,
    title: str,
    x_label: str,
    width: int = 960,
    height: int = 260,
) -> str:
    """Share per day (0..1) as bars, red above `threshold`, with the threshold as a dashed line;
    a day without spend has no share and no bar."""
    left, right, top, bottom = 72, 16, 28, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = float(np.nanmax(shares.to_numpy())) if shares.notna().any() else 0.0
    top_value = nice_ceiling(max(highest * 1.1, threshold * 1.6))
    step = plot_w / max(len(shares), 1)
    bar = step * 0.7
    body = [_text(left, 16, title, size=13, anchor="start", font_weight="600")]
    body += _y_axis(left, top, plot_w, plot_h, top_value, lambda v: f"{v:.0%}")
    for i, (day, share) in enumerate(shares.items()):
        if pd.isna(share):
            continue
        h = plot_h * share / top_value
        x = left + step * i + (step - bar) / 2
        colour = ALERT if share > threshold else "#5B8DB8"
        body.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{day:%Y-%m-%d}: {share:.1%} Unassigned</title></rect>'
        )
    line_y = top + plot_h - plot_h * threshold / top_value
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{line_y:.1f}" y2="{line_y:.1f}" '
        f'stroke="{ALERT}" stroke-width="2" stroke-dasharray="6 4"/>'
    )
    body.append(
        _text(
            left + plot_w - 4,
            line_y - 6,
            f"{threshold:.0%}: above this line the ledger needs a refresh",
            size=11,
            anchor="end",
            fill=ALERT,
        )
    )
    axis_y = top + plot_h
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="#555"/>'
    )
    body += _day_labels(pd.DatetimeIndex(shares.index), left, step, axis_y + 14)
    body.append(_text(left + plot_w / 2, axis_y + 32, x_label, size=12))
    body.append(
        _text(
            16,
            top + plot_h / 2,
            "share of the day",
            size=12,
            transform=f"rotate(-90 16 {top + plot_h / 2:.1f})",
        )
    )
    return _svg(width, height, title, body)


def mix_bars(mix: pd.DataFrame, *, title: str, order: list[str], width: int = 960) -> str:
    """One horizontal 100 % bar per workstream (rows of `order`), split by model share.
    `mix` holds workstream, model, share."""
    models = sorted(mix["model"].unique())
    model_colours = colours(models)
    left, right, top, row_h = 130, 16, 30, 26
    rows = [name for name in order if name in set(mix["workstream"])]
    legend_rows = 1 + int(sum(28 + 7.5 * len(m) for m in models) // (width - 160))
    height = top + row_h * len(rows) + 40 + 20 * legend_rows
    plot_w = width - left - right
    body = [_text(8, 16, title, size=13, anchor="start", font_weight="600")]
    for i, workstream in enumerate(rows):
        y = top + row_h * i
        body.append(_text(left - 8, y + 16, workstream, anchor="end"))
        x = left
        shares = mix.loc[mix["workstream"] == workstream].set_index("model")["share"]
        for model in models:
            share = float(shares.get(model, 0.0))
            if not share > 0:
                continue
            w = plot_w * share
            body.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{model_colours[model]}"><title>{escape(workstream)}: {escape(model)} '
                f"{share:.1%} of cost</title></rect>"
            )
            if w > 40:
                ink = "#000" if model_colours[model] in LIGHT else "#fff"
                body.append(_text(x + w / 2, y + 17, f"{share:.0%}", size=11, fill=ink))
            x += w
    axis_y = top + row_h * len(rows) + 4
    for i in range(5):
        x = left + plot_w * i / 4
        body.append(_text(x, axis_y + 12, f"{i / 4:.0%}", size=10))
    body.append(_text(left + plot_w / 2, axis_y + 28, "share of the workstream's cost", size=12))
    body += _legend([(m, model_colours[m]) for m in models], left, axis_y + 50, plot_w)
    return _svg(width, int(height), title, body)


SPENT = "#0072B2"
FORECAST = "#E69F00"


def burn_up(
    spent: pd.Series,
    *,
    days: pd.DatetimeIndex,
    forecast: float | None,
    budget: float | None,
    title: str,
    x_label: str,
    width: int = 960,
    height: int = 300,
) -> str:
    """Cumulative spend per day of the month (`spent`, indexed by day, a subset of `days`) as a
    line over a shaded area, the forecast as a dashed line from the last day of `spent` to the
    month's last day, and the budget as a horizontal line."""
    left, right, top, bottom = 72, 16, 28, 72
    plot_w, plot_h = width - left - right, height - top - bottom
    candidates = [float(spent.max()) if len(spent) else 0.0]
    candidates += [value for value in (forecast, budget) if value is not None]
    top_value = nice_ceiling(max(candidates) * 1.08, steps=FINE_STEPS)
    step = plot_w / max(len(days), 1)
    position = {day: i for i, day in enumerate(days)}

    def x_of(day: pd.Timestamp) -> float:
        return left + step * (position[day] + 0.5)

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    axis_y = top + plot_h
    body = [_text(left, 16, title, size=13, anchor="start", font_weight="600")]
    body += _y_axis(left, top, plot_w, plot_h, top_value, lambda v: f"${v:,.0f}")
    points = [(x_of(day), y_of(float(value))) for day, value in spent.items()]
    if points:
        line = " ".join(f"L{x:.1f},{y:.1f}" for x, y in points)
        first_x, last_x = points[0][0], points[-1][0]
        body.append(
            f'<path d="M{first_x:.1f},{axis_y:.1f} {line} L{last_x:.1f},{axis_y:.1f} z" '
            f'fill="{SPENT}" fill-opacity="0.12" stroke="none"/>'
        )
        body.append(f'<path d="M{line[1:]}" fill="none" stroke="{SPENT}" stroke-width="2.5"/>')
        for (x, y), (day, value) in zip(points, spent.items(), strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{SPENT}">'
                f"<title>spent by {day:%Y-%m-%d}: ${value:,.2f}</title></circle>"
            )
        last_day = spent.index[-1]
        if forecast is not None and last_day < days[-1]:
            end_x, end_y = x_of(days[-1]), y_of(forecast)
            body.append(
                f'<line x1="{last_x:.1f}" y1="{points[-1][1]:.1f}" x2="{end_x:.1f}" '
                f'y2="{end_y:.1f}" stroke="{FORECAST}" stroke-width="2.5" '
                f'stroke-dasharray="7 5"><title>forecast for {days[-1]:%Y-%m-%d}: '
                f"${forecast:,.2f}</title></line>"
            )
            body.append(
                _text(end_x, end_y - 8, f"forecast ${forecast:,.0f}", size=11, anchor="end")
            )
    if budget is not None:
        budget_y = y_of(budget)
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{budget_y:.1f}" y2="{budget_y:.1f}" '
            f'stroke="{ALERT}" stroke-width="2" stroke-dasharray="3 3">'
            f"<title>budget ${budget:,.2f}</title></line>"
        )
        body.append(
            _text(
                left + 6,
                budget_y - 6,
                f"budget ${budget:,.0f}",
                size=11,
                anchor="start",
                fill=ALERT,
            )
        )
    body.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{axis_y}" y2="{axis_y}" stroke="#555"/>'
    )
    body += _day_labels(days, left, step, axis_y + 14)
    body.append(_text(left + plot_w / 2, axis_y + 32, x_label, size=12))
    body.append(
        _text(
            16,
            top + plot_h / 2,
            "US dollars so far",
            size=12,
            transform=f"rotate(-90 16 {top + plot_h / 2:.1f})",
        )
    )
    legend = [("spent so far", SPENT)]
    if forecast is not None and len(spent) and spent.index[-1] < days[-1]:
        legend.append(("forecast to month end", FORECAST))
    if budget is not None:
        legend.append(("budget", ALERT))
    body += _legend(legend, left, axis_y + 54, plot_w)
    return _svg(width, height, title, body)
