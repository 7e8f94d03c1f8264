"""Markdown read the way the Dagster UI reads it, for tests of what outside text turns into.

The UI renders `MetadataValue.md` as GitHub-flavoured Markdown; markdown-it's CommonMark with
tables stands in for it, and GitHub's links of bare `http://`, `https://` and `www.` are looked
for in the text it leaves.
"""

import re

from markdown_it import MarkdownIt

from budget_pipeline.text_safety import WORD_JOINER

AUTOLINK_LITERAL = re.compile(r"(?i)https?://|www\.")


def rendered_tokens(markdown: str) -> list:
    """The tokens of `markdown` as a CommonMark parser with tables reads it (HTML allowed, as a
    browser would meet it), inline children included."""
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(markdown)
    return [*tokens, *(child for token in tokens for child in token.children or [])]


def live_markup(markdown: str) -> list[str]:
    """What in `markdown` the UI would turn into an image, a link or HTML."""
    found = []
    for token in rendered_tokens(markdown):
        if token.type in ("image", "link_open", "html_inline", "html_block"):
            found.append(f"{token.type}: {token.content or token.attrs}")
        if token.type == "text" and AUTOLINK_LITERAL.search(token.content):
            found.append(f"autolink: {token.content}")
    return found


def table_shapes(markdown: str) -> list[list[int]]:
    """The number of cells of each row of each table."""
    shapes, cells = [], 0
    for token in rendered_tokens(markdown):
        if token.type == "table_open":
            shapes.append([])
        elif token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            shapes[-1].append(cells)
    return shapes


def shown_text(markdown: str) -> str:
    texts = [t.content for t in rendered_tokens(markdown) if t.type in ("text", "code_inline")]
    blocks = [t.content for t in rendered_tokens(markdown) if t.type in ("fence", "code_block")]
    return "\n".join(texts + blocks).replace(WORD_JOINER, "")
