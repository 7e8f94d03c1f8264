"""Text that comes from outside stays text: in a spreadsheet cell, in a Slack message and in the
Markdown of the Dagster UI.

API key names are chosen by whoever may create a key; seat notes, workstream names and model ids
come from files and responses nobody here controls. A spreadsheet runs a cell that starts like a
formula, Slack turns `<!channel>` into a ping and the UI loads the image of `![x](http://…)`, so
every output that shows such text passes it through one of these functions. No Dagster and no
I/O here.
"""

import re

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


# What starts Markdown within a line: escapes, code spans, emphasis and strikethrough, links and
# images, autolinks and HTML tags, entities, table cell borders. CommonMark makes a character
# after a backslash literal; the rest of the punctuation (`-`, `.`, `@`) is left as written, so
# the preview's source stays readable. So is a `_` between letters or digits (`usage_date`):
# CommonMark never reads one there as emphasis.
_MARKDOWN_INLINE = frozenset("\\`*_~[]!<>&|")
_WITHIN_A_WORD = re.compile(r"(?<=[^\W_])_(?=[^\W_])")
# What starts a block at the beginning of a line: a heading, a quote, a list item, a rule.
_BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
# Every line break Markdown (or a table row) could split on.
_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# The Dagster UI's Markdown (GitHub's flavour) turns `http://…`, `https://…` and `www.…` in plain
# text into links after the escapes are read, so escaping alone does not stop them. An invisible
# word joiner after the scheme or the `www` keeps them text. (Email addresses, actors' names,
# stay as written: a mailto link loads nothing, and a name copied from the UI must match the
# ledger.)
_LINK_STARTS = re.compile(r"(?i)(https?)(?=:)|(www)(?=\.)")
WORD_JOINER = "\u2060"


def markdown_text(text: str) -> str:
    """`text` as Markdown that shows it literally, on one line: what a table cell or a line of a
    metadata preview may hold of a name nobody here controls (an API key named `![x](http://…)`
    must not become an image the UI loads, a `|` must not add a column)."""
    one_line = _LINE_BREAKS.sub(" ", text)
    unlinked = _LINK_STARTS.sub(lambda match: match.group(0) + WORD_JOINER, one_line)
    escaped = "".join(
        char if char not in _MARKDOWN_INLINE or _WITHIN_A_WORD.match(unlinked, i) else "\\" + char
        for i, char in enumerate(unlinked)
    )
    return _BLOCK_START.sub(
        lambda match: match.group(1) + _escaped_block_start(match.group(2)), escaped
    )


def _escaped_block_start(marker: str) -> str:
    # `1.` is escaped at its dot (`1\.`), a single mark before it (`\#`, `\-`).
    return marker[:-1] + "\\" + marker[-1] if marker[0].isdigit() else "\\" + marker


def markdown_code_block(text: str) -> str:
    """`text` as a fenced Markdown code block, shown as written whatever it holds: the fence is
    longer than any run of backticks in it, so a seat note with ``` cannot close the block."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"
