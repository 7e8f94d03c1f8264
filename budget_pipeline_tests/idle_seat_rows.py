"""Hand-made rows of `idle_seats`, for the texts that read them (the digest, the report)."""

import pandas as pd

COLUMNS = [
    "email",
    "workstream",
    "sessions",
    "lines_added",
    "status",
    "reason",
    "monthly_cost_usd",
    "last_active",
]


def idle_seats_frame(rows, *more_columns: str) -> pd.DataFrame:
    """`rows` are tuples in the order of COLUMNS then `more_columns`; last_active as text."""
    return pd.DataFrame(rows, columns=[*COLUMNS, *more_columns]).assign(
        last_active=lambda f: pd.to_datetime(f["last_active"])
    )
