"""Claude Code Analytics Admin API → budget decisions, as Dagster assets."""

__version__ = "0.1.0"
