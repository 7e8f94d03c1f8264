"""The concurrency context of the project's executor sleeps until the next check of a blocked
claim; Dagster 1.13.27's own never sleeps (the reason for it: warehouse/pool_wait.py)."""

import dagster as dg
import pytest

from budget_pipeline.dagster_internals import InstanceConcurrencyContext
from budget_pipeline.defs.budget.building_blocks import WAREHOUSE_POOL
from budget_pipeline.warehouse.pool_wait import PoolWaitingConcurrencyContext

POOLS = {"concurrency": {"pools": {"default_limit": 1, "granularity": "op"}}}


@pytest.fixture
def blocked_runs():
    """An instance whose pool slot is held by one run, and two more runs to wait for it."""
    with dg.instance_for_test(overrides=POOLS) as instance:
        runs = [
            instance.create_run_for_job(
                dg.GraphDefinition(name="waits").to_job(), status=dg.DagsterRunStatus.STARTED
            )
            for _ in range(3)
        ]
        instance.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
        claim = instance.event_log_storage.claim_concurrency_slot(
            WAREHOUSE_POOL, runs[0].run_id, "holds"
        )
        assert claim.is_claimed
        yield instance, runs[1:]


def test_a_blocked_claim_sleeps_until_its_next_check_where_dagsters_own_spins(blocked_runs):
    instance, (ours, dagsters) = blocked_runs
    with (
        PoolWaitingConcurrencyContext(instance, ours) as waiting,
        InstanceConcurrencyContext(instance, dagsters) as spinning,
    ):
        assert not waiting.claim(WAREHOUSE_POOL, "raw_usage")
        assert not spinning.claim(WAREHOUSE_POOL, "raw_usage")
        # Dagster's first check comes 1 s after the blocked claim
        assert 0.5 < waiting.interval_to_next_pending_claim_check() <= 1.0
        assert spinning.interval_to_next_pending_claim_check() <= 0  # why pool_wait.py exists
