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

from sqlalchemy import Engine, select

from faxout.db.engine import reading, transaction
from faxout.db.leases import LEASES
from faxout.jobs import attempts, lifecycle
from faxout.schedule import lines as line_leases


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

    def __init__(self, engine: Engine, *, redial_on_unknown: bool) -> None:
        self._engine = engine
        self._redial = redial_on_unknown

    def dead_owners(self) -> list[str]:
        """Lease owners on this host whose process is gone."""
        owners: set[str | None] = set()
        with reading(self._engine) as conn:
            for lease in LEASES:
                # only the rows leased now (a partial index each): never the history
                held = select(lease.owner).where(lease.owner.is_not(None)).distinct()
                owners |= set(conn.execute(held).scalars())
        return sorted(o for o in owners if o and _dead(o))

    def run_once(self, now: datetime) -> Reconciled:
        """Reclaim expired or orphaned leases (the transitions are ``faxout.jobs``')."""
        dead = self.dead_owners()
        with transaction(self._engine) as conn:
            lost = attempts.reclaim_lost(conn, now, dead, redial_on_unknown=self._redial)
            freed = line_leases.free_expired(conn, now, dead)
            restarted = lifecycle.restart_renders(conn, now, dead)
        return Reconciled(
            released_claims=len(lost.released),
            interrupted=0 if self._redial else len(lost.unknown),
            redialled=len(lost.unknown) if self._redial else 0,
            lines_freed=freed,
            renders_restarted=restarted,
        )
