"""The Pandera contract of each table, derived from its definition in `warehouse/tables.py` and
evaluated as each asset's blocking schema check before its rows are written, so a bad day never
lands."""

import pandas as pd
import pandera.pandas as pa

from budget_pipeline.warehouse.tables import TABLES, Column, Table

_DTYPES = {
    "DATE": "datetime64[ns]",
    "VARCHAR": str,
    "BIGINT": "int64",
    "DOUBLE": "float64",
    "BOOLEAN": pd.BooleanDtype(),
}


def _checks(column: Column) -> list[pa.Check]:
    checks = []
    if column.min_value is not None:
        checks.append(pa.Check.ge(column.min_value))
    if column.max_value is not None:
        checks.append(pa.Check.le(column.max_value))
    if column.allowed:
        checks.append(pa.Check.isin(list(column.allowed)))
    if column.non_empty:
        checks.append(pa.Check.str_length(min_value=1))
    if column.starts_with is not None:
        checks.append(pa.Check.str_startswith(column.starts_with))
    return checks


def table_schema(table: Table) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            column.name: pa.Column(
                _DTYPES[column.sql_type],
                checks=_checks(column),
                nullable=column.nullable,
                unique=column.unique,
            )
            for column in table.columns
        },
        checks=[
            pa.Check(check.holds, name=check.name, error=check.error) for check in table.row_checks
        ],
        unique=list(table.unique_together) or None,
        strict=True,
        name=table.name,
    )


SCHEMAS: dict[str, pa.DataFrameSchema] = {name: table_schema(t) for name, t in TABLES.items()}


def failure_cases(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Every violation of the table's contract (empty when the frame is valid)."""
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        return errors.failure_cases[["column", "check", "failure_case", "index"]].astype(str)
    return pd.DataFrame(columns=["column", "check", "failure_case", "index"])
