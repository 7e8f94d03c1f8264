"""The monthly budget-meeting report: figures read from the warehouse, one self-contained HTML
page with inline SVG charts, and CSV exports (workstream cost, idle seats, FinOps FOCUS 1.2).

Nothing here imports Dagster: `budget_pipeline.defs.report.assets` is the asset that calls it.
"""
