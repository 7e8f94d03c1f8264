"""Text that comes from outside stays text: in a spreadsheet cell and in a Slack message.

API key names are chosen by whoever may create a key; seat notes, workstream names and model ids
come from files and responses nobody here controls. A spreadsheet runs a cell that starts like a
formula, and Slack turns `<!channel>` into a ping, so every output that shows such text passes it
through one of these functions. No Dagster and no I/O here.
"""

import pandas as pd

# A spreadsheet reads a cell starting with one of these as a formula (tab and carriage return
# included: some spreadsheets skip them and read the formula after).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def spreadsheet_safe(value: object) -> object:
    """A text value that a spreadsheet would run as a formula, shown as text: with a leading `'`.

    Only text is changed. Numbers (int, float, Decimal, numpy numbers), NaN, None and dates are
    returned as they are, so a numeric cell still reads as a number. Text that looks like a
    negative number (a note `-5`) is text all the same and gets the mark: the cell is text in the
    warehouse, and telling `-5` from `-2+3` or `-cmd|...` is the guessing this rule avoids.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARK + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `spreadsheet_safe` applied to its text columns; numeric, boolean and date
    columns are left alone (a number column cannot start a formula)."""
    safe = frame.copy()
    for column in safe.columns:
        dtype = safe[column].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            safe[column] = safe[column].map(spreadsheet_safe, na_action="ignore")
    return safe


def _marked(text: str) -> bool:
    """Whether `text` starts with a formula character, after any number of marks."""
    return text.lstrip(TEXT_MARK).startswith(FORMULA_STARTS)


def reversible_spreadsheet_cell(text: str) -> str:
    """`text` for a CSV that the pipeline reads back (workstreams.csv): marked like
    `spreadsheet_safe`, and also when marks already precede a formula character, so that
    `spreadsheet_text` returns exactly `text` (a key really named `'=x` stays `'=x`)."""
    return TEXT_MARK + text if _marked(text) else text


def spreadsheet_text(cell: str) -> str:
    """A cell of a CSV a person may keep in a spreadsheet, read as the text it stands for: one
    mark before a formula character is dropped (`'=x` is the key `=x`), the inverse of
    `reversible_spreadsheet_cell`. Any other cell, `'bob` included, is read as written."""
    if cell.startswith(TEXT_MARK) and _marked(cell[1:]):
        return cell[1:]
    return cell


def slack_escape(text: str) -> str:
    """`text` as Slack shows it literally: `&`, `<` and `>` become entities, which also defuses
    `<!channel>`, `<!here>`, `<@U123>` mentions and `<http://x|click>` links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
