"""What the Dagster UI shows about a table: its column schema and previews of its rows."""

import dagster as dg
import pandas as pd

from budget_pipeline.text_safety import markdown_text
from budget_pipeline.warehouse.tables import Table

PREVIEW_ROWS = 10


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=c.sql_type, description=c.description)
            for c in table.columns
        ]
    )


def table_asset_metadata(table: Table) -> dict[str, object]:
    """Definition metadata of a warehouse asset: where it lives and what its columns mean."""
    return {
        "partition_expr": table.partition_column,
        "dagster/column_schema": column_schema(table),
        "dagster/table_name": f"warehouse.{table.qualified_name}",
    }


def markdown_preview(frame: pd.DataFrame, limit: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """A markdown table of the first rows (pandas' to_markdown needs an extra dependency). Text
    cells hold names from outside (API keys, actors, seat notes): each is escaped, so it shows
    literally and keeps to its cell."""
    shown = frame.head(limit)

    def cell(value: object) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if isinstance(value, pd.Timestamp):
            return value.date().isoformat() if value == value.normalize() else str(value)
        if isinstance(value, float):
            return f"{value:,.4f}".rstrip("0").rstrip(".")
        text = str(value)
        return markdown_text(text if len(text) <= 60 else text[:57] + "...")

    header = "| " + " | ".join(markdown_text(str(column)) for column in shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    suffix = [f"\n_{len(frame) - limit} more rows_"] if len(frame) > limit else []
    return dg.MetadataValue.md("\n".join([header, rule, *body, *suffix]))
