"""Writing one month's report folder: the page and its three CSV exports.

Each file is written to a temporary name and renamed into place, so a reader (or a file share
syncing the folder) never sees half a report.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from budget_pipeline.report.figures import ReportFigures
from budget_pipeline.report.focus import FOCUS_DECIMALS
from budget_pipeline.report.month import Month
from budget_pipeline.report.page import NEVER_ACTIVE, NEVER_SEEN, render_page
from budget_pipeline.text_safety import spreadsheet_safe_frame


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    workstream_cost_csv: Path
    idle_seats_csv: Path
    focus_csv: Path

    @classmethod
    def for_month(cls, base_dir: str | Path, month: Month) -> "ReportFiles":
        folder = Path(base_dir) / month.key
        return cls(
            html=folder / f"budget-report-{month.key}.html",
            workstream_cost_csv=folder / f"workstream-cost-{month.key}.csv",
            idle_seats_csv=folder / f"idle-seats-{month.key}.csv",
            focus_csv=folder / f"focus-cost-{month.key}.csv",
        )

    @property
    def exports(self) -> dict[str, str]:
        """What each export holds → its file name (the page links them relatively)."""
        return {
            "spend, unit costs and caching savings per workstream": self.workstream_cost_csv.name,
            "idle and barely active seats": self.idle_seats_csv.name,
            "the month's cost in FinOps FOCUS 1.2 columns": self.focus_csv.name,
        }


def workstream_export(figures: ReportFigures) -> pd.DataFrame:
    value = figures.value.drop(columns="cost_usd")
    frame = figures.workstreams.merge(value, on="workstream", how="left")
    return frame.assign(month=figures.month.key)[["month", *frame.columns]]


def idle_seats_export(figures: ReportFigures) -> pd.DataFrame:
    frame = figures.idle_seats.copy()
    never = NEVER_SEEN if figures.console_source else NEVER_ACTIVE
    frame["last_active_note"] = frame["last_active"].isna().map({True: never, False: ""})
    return frame


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def _csv(frame: pd.DataFrame) -> str:
    # Finance opens these in a spreadsheet: a key name like `=HYPERLINK(...)` must stay text.
    return spreadsheet_safe_frame(frame).to_csv(
        index=False, date_format="%Y-%m-%d", float_format="%.6f"
    )


def focus_csv(focus: pd.DataFrame) -> str:
    """The FOCUS export's text: every cost, price and quantity with FOCUS_DECIMALS decimals, so
    a split cost reads 0.7396823000, never 0.7396822999999999."""
    return spreadsheet_safe_frame(focus).to_csv(index=False, float_format=f"%.{FOCUS_DECIMALS}f")


def write_report(
    figures: ReportFigures, focus: pd.DataFrame, base_dir: str | Path, generated_at: str
) -> ReportFiles:
    files = ReportFiles.for_month(base_dir, figures.month)
    files.html.parent.mkdir(parents=True, exist_ok=True)
    _write(files.workstream_cost_csv, _csv(workstream_export(figures)))
    _write(files.idle_seats_csv, _csv(idle_seats_export(figures)))
    _write(files.focus_csv, focus_csv(focus))
    _write(files.html, render_page(figures, files.exports, generated_at))
    return files
