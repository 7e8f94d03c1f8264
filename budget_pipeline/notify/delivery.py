"""How long a sensor tick may spend delivering notifications (docs/operations.md, "Sensors")."""

import datetime as dt
import time
from collections.abc import Callable

# Records read per tick; a long backfill's materialisations are worked through over a few ticks.
RECORDS_PER_TICK = 1000
# Time a tick may spend delivering, well under Dagster's 60 s sensor timeout (a tick that passes
# it is killed and its cursor lost); what is left undelivered waits in the cursor for next tick.
DELIVERY_BUDGET_SECONDS = 40.0


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class DeliveryBudget:
    """The delivery time left in one tick; `clock` is injectable so a test can make each delivery
    take as long as it needs without waiting for it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self._seconds, self._clock = seconds, clock
        self._started = clock()

    def remaining(self) -> float:
        return self._seconds - (self._clock() - self._started)
