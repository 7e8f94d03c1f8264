"""The executor of every run: Dagster's in-process executor, waiting for the `duckdb_warehouse`
pool asleep and keeping the pool clear of dead runs while it waits (docs/operations.md, "The
instance: dagster.yaml").

While a step waits for a pool slot, Dagster 1.13.27's executor loop asks its concurrency context
how long it may sleep before the next check of the step's claim. The answer is
`min(0, time to the next check)`: never positive, so the loop never sleeps and a run waiting
for the pool burns a whole core for as long as it waits. Upstream found this
(dagster-io/dagster#20367, closed unmerged) and no setting changes it. Here the answer is the
time to Dagster's own next check (1 s, backing off to 15 s), so when and in which order claims
are made stays Dagster's; only the spinning between them is gone.
"""

import logging
import os
import time
from collections.abc import Iterator

import dagster as dg
from dagster_shared.utils.timing import format_duration

from budget_pipeline.dagster_internals import (
    EngineEventData,
    ExecuteRunWithPlanIterable,
    InProcessExecutor,
    InstanceConcurrencyContext,
    PlanExecutionContextManager,
    inner_plan_execution_iterator,
)
from budget_pipeline.warehouse.housekeeping import fail_dead_runs, record_run_process

# How often a run waiting for the pool looks for dead runs holding it: a run killed while
# another one waits then frees the pool within this, not only when a later run starts.
HOUSEKEEPING_INTERVAL_SECONDS = 10.0


class PoolWaitingConcurrencyContext(InstanceConcurrencyContext):
    """Dagster's concurrency context of a run, with a sleep that is never negative and the dead-run
    housekeeping done while a claim is blocked."""

    def __init__(self, instance: dg.DagsterInstance, dagster_run: dg.DagsterRun, log=None):
        super().__init__(instance, dagster_run)
        self._log = log or logging.getLogger("budget_pipeline.warehouse")
        # The run did the housekeeping once as it started (the warehouse IO manager).
        self._housekeeping_due = time.monotonic() + HOUSEKEEPING_INTERVAL_SECONDS

    def interval_to_next_pending_claim_check(self) -> float:
        if not self._pending_claims or not self._pending_timeouts:
            return 0.0
        return max(0.0, min(self._pending_timeouts.values()) - time.time())

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if super().claim(concurrency_key, step_key, step_priority):
            return True
        if time.monotonic() >= self._housekeeping_due:
            self._housekeeping_due = time.monotonic() + HOUSEKEEPING_INTERVAL_SECONDS
            if self._fail_dead_runs() and step_key in self._pending_timeouts:
                # A freed slot goes to the first waiting step, maybe this one: look now.
                self._pending_timeouts[step_key] = time.time()
        return False

    def _fail_dead_runs(self) -> list[str]:
        # Housekeeping for other runs never fails this one: a busy instance is tried next time.
        try:
            return fail_dead_runs(self._instance, self._log)
        except Exception as error:
            self._log.warning(f"looking for dead runs failed, tried again in a while: {error}")
            return []


def _execution_iterator(job_context, execution_plan) -> Iterator[dg.DagsterEvent]:
    with PoolWaitingConcurrencyContext(
        job_context.instance, job_context.dagster_run, job_context.log
    ) as concurrency_context:
        yield from inner_plan_execution_iterator(job_context, execution_plan, concurrency_context)


class PoolWaitingInProcessExecutor(InProcessExecutor):
    """`InProcessExecutor.execute` with `PoolWaitingConcurrencyContext` in place of Dagster's, and
    the run's process recorded first, so a later run can tell whether it still runs."""

    def execute(self, plan_context, execution_plan) -> Iterator[dg.DagsterEvent]:
        record_run_process(plan_context.instance, plan_context.run_id)
        step_keys_to_execute = execution_plan.step_keys_to_execute
        yield dg.DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys_to_execute),
        )
        started = time.perf_counter()
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=_execution_iterator,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                    step_dependency_config=self.step_dependency_config,
                ),
            )
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        yield dg.DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process (pid: {os.getpid()}) in {format_duration(elapsed_ms)}",
            event_specific_data=EngineEventData.in_process(os.getpid(), step_keys_to_execute),
        )


@dg.executor(name="in_process", config_schema=dg.in_process_executor.config_schema)
def pool_waiting_in_process_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """The in-process executor (same name and config), waiting for pools asleep."""
    dagster_own = dg.in_process_executor.executor_creation_fn(init_context)
    return PoolWaitingInProcessExecutor(
        retries=dagster_own.retries,
        step_dependency_config=dagster_own.step_dependency_config,
        marker_to_close=dagster_own.marker_to_close,
    )
