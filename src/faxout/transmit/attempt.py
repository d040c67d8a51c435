"""One attempt to send one job: claim → dialing → send → finish (the two-phase protocol).

Guarantee, at most one dial per attempt (docs/guarantees.md): the attempt is committed as
``claimed`` (with a line leased), then as ``dialing``, *before* the transport is touched. A worker
that dies while ``dialing`` leaves a job whose outcome is unknown; the reconciler makes it
``interrupted`` and the report says the fax may or may not have been delivered. It is never
redialled automatically unless the operator sets ``redial_on_unknown``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Row, func, select

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import transaction
from faxout.db.tables import accounts, attempts, jobs, submissions
from faxout.errors import FaxoutError
from faxout.jobs import attempts as transitions
from faxout.jobs.attempts import Held
from faxout.jobs.heartbeat import heartbeat
from faxout.jobs.model import JobState
from faxout.jobs.retry import RetryPolicy, decide
from faxout.sandbox import workspace
from faxout.schedule import lines
from faxout.transmit import pages
from faxout.transmit.dialrules import DialRules, dial_string
from faxout.transmit.live import LiveProgress, Snapshot
from faxout.transmit.preflight import preflight, refused
from faxout.transmit.result import ALL_MODEMS, CallProgress, CallResult, FaxCall, Modem, Outcome
from faxout.transmit.transport import FaxTransport

log = logging.getLogger("faxout.transmit")
LINE_WAIT_SECONDS = 2.0  # a job that found no free line is looked at again this soon
ABANDON_WAIT = timedelta(seconds=60)  # a claim given up before dialling is tried again after


# What a call's header and TSI say of the account: selected with a job's row (the status API's
# page images select it too, so they draw the header a call draws).
SENDER_COLUMNS = (
    accounts.c.username,
    accounts.c.name.label("account_name"),
    accounts.c.station,
    accounts.c.time_zone,
    accounts.c.tagline,
)


def sender_of(row: Row[*tuple[Any, ...]]) -> pages.Sender:
    """The sender of a row selected with ``SENDER_COLUMNS``."""
    return pages.Sender(row.username, row.account_name, row.station, row.time_zone, row.tagline)


class _LostError(Exception):
    """The job moved on between reading it and claiming it (raised to roll back the lease)."""


@dataclass(frozen=True)
class Claim:
    """A job leased to this worker, with its line and its attempt row."""

    held: Held
    line_no: int
    number: str
    first_page: int
    dials: int
    tries: int
    kill_at: datetime
    submission_id: int
    rendered_key: str
    cover_key: str | None
    ident: str  # our TSI on this call
    header: pages.Header | None
    modems: tuple[Modem, ...] = ALL_MODEMS


class AttemptRunner:
    """Carries out attempts for one transport on behalf of one worker."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        transport: FaxTransport,
        *,
        transport_name: str,
        worker: str,
        clock: Clock,
        policy: RetryPolicy,
        lease_seconds: float = 60.0,
        per_number: int = 1,
        ident: str = "",
        header: pages.HeaderStyle | None = None,
        dial: DialRules | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._transport = transport
        self._name = transport_name
        self._worker = worker
        self._clock = clock
        self._policy = policy
        self._ttl = lease_seconds
        self._per_number = per_number
        self._ident = ident
        self._header = header or pages.HeaderStyle()
        self._dial = dial or DialRules()

    # -- phase 1: claim -------------------------------------------------------------------

    def claim(self, job_id: int) -> Claim | None:
        """queued → claimed with a line leased and an attempt row; None if not ours to run."""
        try:
            return self._claim(job_id)
        except _LostError:
            return None

    def _claim(self, job_id: int) -> Claim | None:
        now = self._clock.now()
        until = now + timedelta(seconds=self._ttl)
        with transaction(self._engine) as conn:
            row = conn.execute(
                select(
                    jobs,
                    func.coalesce(jobs.c.rendered_key, submissions.c.rendered_key).label(
                        "document_key"
                    ),
                    *SENDER_COLUMNS,
                )
                .join(submissions, submissions.c.id == jobs.c.submission_id)
                .join(accounts, accounts.c.id == submissions.c.account_id)
                .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED)
                .with_for_update()
            ).first()
            if row is None:
                return None  # a duplicate or stale message: someone else has it, or it's done
            line = lines.lease(
                conn,
                transport=self._name,
                holder=self._worker,
                job_id=job_id,
                number=row.number,
                now=now,
                ttl=self._ttl,
                per_number=self._per_number,
            )
            if isinstance(line, lines.LineBusy):
                at = max(row.next_attempt_at or now, now + timedelta(seconds=LINE_WAIT_SECONDS))
                transitions.wait_for_line(conn, job_id, row.version, now, line.reason, at)
                return None
            previous = conn.execute(
                select(attempts.c.modem, attempts.c.outcome)
                .where(attempts.c.job_id == job_id)
                .order_by(attempts.c.attempt_no.desc())
                .limit(1)
            ).first()
            held = transitions.claim(
                conn,
                job_id,
                row.version,
                worker=self._worker,
                transport=self._name,
                line_no=line,
                first_page=row.resume_page,
                lease_until=until,
                now=now,
            )
            if held is None:
                raise _LostError  # rolls the line lease back with it
        sender = sender_of(row)
        ident = pages.station_ident(sender, self._ident)
        return Claim(
            held=held,
            line_no=line,
            number=row.number,
            first_page=row.resume_page,
            dials=row.dials,
            tries=row.tries,
            kill_at=row.kill_at or now + self._policy.kill_time,
            submission_id=row.submission_id,
            rendered_key=row.document_key,
            cover_key=row.cover_key,
            ident=ident,
            modems=_modems_after(previous.modem, previous.outcome) if previous else ALL_MODEMS,
            header=pages.header_for(self._header, sender, ident, row.name, row.number, job_id, now),
        )

    # -- phase 2: dialing -----------------------------------------------------------------

    def mark_dialing(self, claim: Claim) -> Claim | None:
        """claimed → dialing, committed before the transport is touched; None if lost."""
        now = self._clock.now()
        with transaction(self._engine) as conn:
            held = transitions.dialing(conn, claim.held, now, now + timedelta(seconds=self._ttl))
        return None if held is None else replace(claim, held=held)

    def _renew(self, claim: Claim) -> bool:
        """Extend the job's and the line's lease (the call goes on either way)."""
        until = self._clock.now() + timedelta(seconds=self._ttl)
        with transaction(self._engine) as conn:
            transitions.renew(conn, claim.held, until)
            lines.renew(conn, self._name, claim.line_no, self._worker, until)
        return True

    # -- the document ---------------------------------------------------------------------

    def _document(self, claim: Claim, workdir: Path) -> Path:
        """The pages to send this time: cover + document from the first unconfirmed page,
        each with this call's header in its band."""
        parts: list[Path] = []
        keys = ([claim.cover_key] if claim.cover_key else []) + [claim.rendered_key]
        for i, key in enumerate(keys):
            path = workdir / f"part{i}.tif"
            with self._store.open(key) as src, path.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            parts.append(path)
        return pages.prepare(parts, claim.first_page, claim.header, workdir).path

    # -- the whole attempt ----------------------------------------------------------------

    def run(self, job_id: int, progress: Callable[[CallProgress], None] | None = None) -> None:
        """Carry out one attempt of ``job_id`` if it is queued; a no-op otherwise."""
        claim = self.claim(job_id)
        if claim is None:
            return
        fields = {"job": job_id, "attempt": claim.held.attempt_no, "line": claim.line_no}
        with workspace.current().temp_dir("job-") as tmp:
            try:
                document = self._document(claim, tmp)
            except (FaxoutError, OSError) as exc:
                self._abandon(claim, f"could not prepare the pages: {exc}")
                return
            check = preflight(document)  # once, before any transport sees the pages
            dialing = self.mark_dialing(claim)
            if dialing is None:
                self._abandon(claim, "lease lost before dialing")
                return
            claim = dialing
            call = FaxCall(
                document=document,
                number=dial_string(claim.number, self._dial),  # jobs keep E.164
                call_id=f"job{job_id}-{claim.held.attempt_no}",
                ident=claim.ident,
                modems=claim.modems,
                checked=check,
            )
            if check.ok:
                log.info("dialing %s", claim.number, extra={"fields": fields})
                result = self._call(claim, call, progress, fields)
            else:
                log.error("pages refused: %s", check.reason, extra={"fields": fields})
                result = refused(check)
            self.finish(claim, result)
            log.info("attempt finished: %s", result.outcome.value, extra={"fields": fields})

    def _call(
        self,
        claim: Claim,
        call: FaxCall,
        progress: Callable[[CallProgress], None] | None,
        fields: dict[str, int],
    ) -> CallResult:
        """The call itself, its leases renewed as it runs; a transport that breaks is one
        failed attempt."""
        renew = functools.partial(self._renew, claim)
        what: dict[str, object] = {"job": claim.held.job_id}
        live = LiveProgress(
            functools.partial(self._record_progress, claim),
            progress or (lambda _p: None),
            what=what,
        )
        with heartbeat(renew, self._ttl / 3, what=what), live:
            try:
                return self._transport.send(call, live)
            except Exception as exc:
                log.exception("transport failed", extra={"fields": fields})
                return CallResult(Outcome.FAILED, None, f"transport error: {exc}", 0, 0, 0)

    def _record_progress(self, claim: Claim, snap: Snapshot) -> bool:
        """Record the call's progress on its attempt (from the progress writer's thread);
        False once the job is no longer this call's."""
        with transaction(self._engine) as conn:
            changed = transitions.progress(
                conn,
                claim.held,
                self._clock.now(),
                pages_confirmed=snap.pages_confirmed,
                page_now=snap.page_now,
                pages_total=snap.pages_total,
            )
        return changed is not None

    def _abandon(self, claim: Claim, why: str) -> None:
        """Undo a claim that never dialled: the job is ready again, the line free."""
        now = self._clock.now()
        with transaction(self._engine) as conn:
            transitions.abandon(conn, claim.held, now, why, now + ABANDON_WAIT)
            lines.release(conn, self._name, claim.line_no, self._worker)

    # -- phase 3: finish ------------------------------------------------------------------

    def finish(self, claim: Claim, result: CallResult) -> None:
        """Record the attempt and move the job on (done, retry, failed); release the line."""
        now = self._clock.now()
        decision = decide(
            self._policy,
            result.outcome.value,
            dials=claim.dials,
            tries=claim.tries,
            resume_from_page=claim.first_page,
            pages_confirmed=result.pages_confirmed,
            kill_at=claim.kill_at,
            now=now,
        )
        with transaction(self._engine) as conn:
            if not transitions.finish(
                conn,
                claim.held,
                now,
                decision,
                pages_confirmed=claim.first_page - 1 + result.pages_confirmed,
                result=_attempt_columns(result),
            ):
                log.warning(
                    "the job moved on during the call; its attempt is recorded",
                    extra={"fields": {"job": claim.held.job_id}},
                )
            lines.release(conn, self._name, claim.line_no, self._worker)


def _attempt_columns(result: CallResult) -> dict[str, object]:
    """The attempt row's record of a call."""
    return {
        "outcome": result.outcome.value,
        "t30_code": result.t30_code,
        "t30_text": result.t30_text,
        "pages_sent": result.pages_sent,
        "pages_confirmed": result.pages_confirmed,
        "pages_total": result.pages_in_document,
        "modem": result.modem,
        "bit_rate": result.bit_rate,
        "ecm": result.ecm,
        "compression": result.compression.value if result.compression else None,
        "remote_csid": result.remote_csid,
        "line_seconds": result.line_seconds,
        "wall_seconds": result.wall_seconds,
        "detail": "; ".join(result.notes) if result.notes else "",
    }


_STEPPED_DOWN = (Modem.V29, Modem.V27TER)


def _modems_after(modem: str | None, outcome: str | None) -> tuple[Modem, ...]:
    """What to offer after a call that ended on ``modem`` with ``outcome``.

    A V.17 call that broke off mid-document (partial, or failed after training) is retried
    without V.17, as HylaFAX steps down: V.17 re-trains briefly before every ECM block, and
    receivers built on spandsp (Asterisk, FreeSWITCH, this gateway's own far end) can lose the
    call when one such short training fails. V.29 has no short training.
    """
    if modem == Modem.V17 and outcome in (Outcome.PARTIAL, Outcome.FAILED):
        return _STEPPED_DOWN
    return ALL_MODEMS
