"""The filters of ``GET /api/v1/faxes``: from query parameters to a ``FaxFilter``.

Every filter is applied in SQL (``faxout.jobs.repo.FaxFilter``), so a page holds ``limit``
matching faxes and ``next_cursor`` (the last id of the page) stays exact whatever is filtered.
"""

from __future__ import annotations

from datetime import datetime

from faxout.accounts.repo import Account
from faxout.intake.api.submit import LABEL_KEY, MAX_LABEL_VALUE_CHARS, Problem422
from faxout.jobs.dialplan import DialPolicy
from faxout.jobs.numbers import Refused, read_number
from faxout.jobs.repo import FAX_STATES, FaxFilter

MAX_LABEL_FILTERS = 20


def states_of(values: list[str]) -> tuple[str, ...]:
    """The fax states asked for, repeated (``state=a&state=b``) or listed (``state=a,b``)."""
    asked = [s.strip().lower() for value in values for s in value.split(",") if s.strip()]
    unknown = [s for s in asked if s not in FAX_STATES]
    if unknown:
        raise Problem422(f"state: {unknown[0][:40]!r} is not one of {', '.join(FAX_STATES)}")
    return tuple(dict.fromkeys(asked))


def labels_of(values: list[str]) -> tuple[tuple[str, str], ...]:
    """The ``key:value`` pairs asked for; the value may hold colons, the key may not."""
    if len(values) > MAX_LABEL_FILTERS:
        raise Problem422(f"label: at most {MAX_LABEL_FILTERS} label filters")
    pairs: list[tuple[str, str]] = []
    for value in values:
        key, colon, wanted = value.partition(":")
        if not colon or not LABEL_KEY.fullmatch(key) or len(wanted) > MAX_LABEL_VALUE_CHARS:
            raise Problem422(f"label: {value[:70]!r} is not key:value (a label's key and value)")
        pairs.append((key, wanted))
    return tuple(pairs)


def number_of(value: str, account: Account, reachable: tuple[str, ...]) -> str:
    """A recipient's number read as a submission reads it for ``account`` (E.164); the
    account's allow and deny lists are not applied, so faxes sent before they changed are
    still found."""
    policy = DialPolicy.for_account(
        account.username, account.region, account.dial_allow, account.dial_deny, reachable
    )
    read = read_number(value, policy.region, home=policy.home, reachable=policy.reachable)
    if isinstance(read, Refused):
        raise Problem422(f"recipient: {value[:40]!r} {read.reason}")
    return read.e164


def fax_filter(
    account: Account,
    reachable: tuple[str, ...],
    *,
    states: list[str],
    recipient: str | None,
    labels: list[str],
    created_after: datetime | None,
    created_before: datetime | None,
) -> FaxFilter:
    """The filter the query parameters ask for; ``Problem422`` naming a bad one."""
    return FaxFilter(
        states=states_of(states),
        number=number_of(recipient, account, reachable) if recipient is not None else None,
        labels=labels_of(labels),
        created_after=created_after,
        created_before=created_before,
    )
