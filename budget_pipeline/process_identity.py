"""Which process is which, even when process ids repeat.

A process id names a process only while it runs: after a container restart the new container's
processes get the same small ids again (its first process is always pid 1), and on a busy
machine ids wrap around. So "some process has pid N" says nothing about whether the process that
had pid N is still running. A process is therefore named by its id together with the moment it
started, counted in clock ticks since boot (/proc/<pid>/stat, field 22), and the boot it belongs
to (/proc/sys/kernel/random/boot_id): no two processes of a machine share all three.

Only Linux has /proc; elsewhere `this_process()` is None and callers fall back on the process
id alone (`pid_exists`).
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_BOOT_ID = _PROC / "sys" / "kernel" / "random" / "boot_id"
# A process seen starting up to this long after a moment is still taken to have started before
# it: its start in wall-clock time is derived from the boot's, which moves when the clock is set.
# Generous, because erring the other way fails a live run; only runs that never recorded their
# process (`has_run_since`) depend on it.
_CLOCK_SLACK_SECONDS = 60.0


@dataclass(frozen=True)
class ProcessIdentity:
    boot_id: str
    pid: int
    start_ticks: int

    def as_text(self) -> str:
        return f"{self.boot_id}/{self.pid}/{self.start_ticks}"

    @classmethod
    def from_text(cls, text: str | None) -> "ProcessIdentity | None":
        """The identity `as_text` wrote, or None for anything else (absent, or not ours)."""
        parts = (text or "").split("/")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))


def boot_id() -> str | None:
    """This boot's id; None without /proc."""
    try:
        return _BOOT_ID.read_text().strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot; None when there is no such
    process (or no /proc)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces and parentheses:
    # the fields are counted from the last ')'. Field 22 is the 20th after it.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of the process that has `pid` now; None if none has it (or no /proc)."""
    boot, ticks = boot_id(), _start_ticks(pid)
    if boot is None or ticks is None:
        return None
    return ProcessIdentity(boot, pid, ticks)


def this_process() -> ProcessIdentity | None:
    return identity_of(os.getpid())


def is_running(identity: ProcessIdentity) -> bool:
    """Whether the very process `identity` names still runs: a process of another boot never
    does, and one whose pid now has another start time is gone (its pid was reused)."""
    if boot_id() is None:  # no /proc here: the process id is all there is
        return pid_exists(identity.pid)
    return identity_of(identity.pid) == identity


def pid_exists(pid: int) -> bool:
    """Whether any process has `pid` (another user's included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def started_at(pid: int) -> float | None:
    """When the process that has `pid` now started, in seconds since the epoch; None if there is
    no such process (or no /proc)."""
    ticks = _start_ticks(pid)
    if ticks is None:
        return None
    booted_at = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return booted_at + ticks / os.sysconf("SC_CLK_TCK")


def has_run_since(pid: int, moment: float) -> bool:
    """Whether a process that already ran at `moment` (seconds since the epoch) still has `pid`:
    for a process whose identity was never recorded, only its pid and a moment it was seen. A
    process that has the pid but started after `moment` is another one that reused the pid."""
    if not pid_exists(pid):
        return False
    started = started_at(pid)
    return started is None or started <= moment + _CLOCK_SLACK_SECONDS
