"""Dagster objects only: partitions, resources, assets, checks (the rules live in `rules/`)."""

import warnings

import dagster as dg

# APIs we rely on (single-run backfill policy, partitioned checks, timezone-aware partition
# mappings) are marked beta/preview. pyproject.toml pins the versions they were tested with, so
# the warnings would only bury a run's own output.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
