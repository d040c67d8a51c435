"""The reconciler: puts right what dead workers and lost messages leave behind.

- A job ``claimed`` by a worker that died (lease expired, or its process is gone from this host)
  goes back to ``ready``: it never dialled.
- A job ``dialing`` when its worker died becomes ``interrupted``: the call may or may not have
  delivered the fax, so it is reported, never silently redialled — unless the operator set
  ``redial_on_unknown``, in which case it is ``ready`` again.
- Lines held by dead workers are freed; renders of dead workers start again.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, or_, select, update

from faxout.db.engine import transaction
from faxout.db.tables import attempts, jobs, lines, submissions
from faxout.jobs.lifecycle import Lifecycle
from faxout.jobs.model import JobState, SubmissionState
from faxout.schedule import lines as line_leases

UNKNOWN_OUTCOME = "the worker stopped during the call: the fax may or may not have been delivered"


def _pid_namespace() -> str:
    """This process's PID namespace (Linux), or "" where there is no telling."""
    try:
        return str(Path("/proc/self/ns/pid").stat().st_ino)
    except OSError:
        return ""


def worker_id(role: str) -> str:
    """A lease owner name: host, process, role and PID namespace, so a restart can tell dead
    owners apart. The namespace matters because containers sharing the host's name (host
    networking) each number their processes from 1: a PID means nothing across them."""
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{_pid_namespace()}"


def _dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, rest = rest.partition(":")
    namespace = rest.partition(":")[2]
    if host != socket.gethostname() or not pid_text.isdigit() or namespace != _pid_namespace():
        return False  # another machine's (or container's) worker: only its lease expiry tells
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Reconciled:
    """What one pass changed."""

    released_claims: int = 0
    interrupted: int = 0
    redialled: int = 0
    lines_freed: int = 0
    renders_restarted: int = 0


class Reconciler:
    """One pass at a time (``run_once``); the dispatcher calls it periodically."""

    def __init__(self, engine: Engine, lifecycle: Lifecycle, *, redial_on_unknown: bool) -> None:
        self._engine = engine
        self._lifecycle = lifecycle
        self._redial = redial_on_unknown

    def dead_owners(self) -> list[str]:
        """Lease owners on this host whose process is gone."""
        with self._engine.connect() as conn:
            owners = set(conn.execute(select(jobs.c.lease_owner).distinct()).scalars())
            owners |= set(conn.execute(select(lines.c.holder).distinct()).scalars())
            owners |= set(conn.execute(select(submissions.c.lease_owner).distinct()).scalars())
        return sorted(o for o in owners if o and _dead(o))

    def run_once(self, now: datetime) -> Reconciled:
        """Reclaim expired or orphaned leases."""
        dead = self.dead_owners()
        lost = or_(jobs.c.lease_until < now, jobs.c.lease_owner.in_(dead))
        with transaction(self._engine) as conn:
            claimed = list(
                conn.execute(
                    select(jobs.c.id).where(jobs.c.state == JobState.CLAIMED, lost)
                ).scalars()
            )
            if claimed:
                conn.execute(
                    update(attempts)
                    .where(attempts.c.job_id.in_(claimed), attempts.c.phase == "claimed")
                    .values(
                        phase="finished",
                        outcome="abandoned",
                        finished_at=now,
                        detail="the worker stopped before dialling",
                    )
                )
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(claimed), jobs.c.state == JobState.CLAIMED)
                    .values(
                        state=JobState.READY.value,
                        lease_owner=None,
                        lease_until=None,
                        reason="the worker stopped before dialling; sending again",
                        updated_at=now,
                    )
                )
            dialing = list(
                conn.execute(
                    select(jobs.c.id).where(jobs.c.state == JobState.DIALING, lost)
                ).scalars()
            )
            if dialing:
                conn.execute(
                    update(attempts)
                    .where(attempts.c.job_id.in_(dialing), attempts.c.phase == "dialing")
                    .values(
                        phase="finished", outcome="unknown", finished_at=now, detail=UNKNOWN_OUTCOME
                    )
                )
                if self._redial:
                    values: dict[str, object] = {
                        "state": JobState.READY.value,
                        "reason": UNKNOWN_OUTCOME + "; sending again (redial_on_unknown)",
                        "next_attempt_at": now,
                    }
                else:
                    values = {
                        "state": JobState.INTERRUPTED.value,
                        "reason": UNKNOWN_OUTCOME,
                        "finished_at": now,
                    }
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(dialing), jobs.c.state == JobState.DIALING)
                    .values(
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                        dials=jobs.c.dials + 1,
                        **values,
                    )
                )
            freed = line_leases.free_expired(conn, now, dead)
            restarted = 0
            stale = list(
                conn.execute(
                    select(submissions.c.id).where(
                        submissions.c.state == SubmissionState.RENDERING,
                        or_(submissions.c.lease_until < now, submissions.c.lease_owner.in_(dead)),
                    )
                ).scalars()
            )
            if stale:
                conn.execute(
                    update(submissions)
                    .where(submissions.c.id.in_(stale))
                    .values(
                        state=SubmissionState.ACCEPTED.value, lease_owner=None, lease_until=None
                    )
                )
                conn.execute(
                    update(jobs)
                    .where(jobs.c.submission_id.in_(stale), jobs.c.state == JobState.RENDERING)
                    .values(state=JobState.ACCEPTED.value)
                )
                restarted = len(stale)
        return Reconciled(
            released_claims=len(claimed),
            interrupted=0 if self._redial else len(dialing),
            redialled=len(dialing) if self._redial else 0,
            lines_freed=freed,
            renders_restarted=restarted,
        )
