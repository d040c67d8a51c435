"""The send form made into a fax by the API's own prepare and submit (real SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.requests import Request

from faxout.accounts.repo import Account
from faxout.intake.console.sendform import FormError, SendForm
from faxout.intake.console.sending import send, send_at_of
from faxout.intake.services import Intake
from faxout.jobs.create import NewDocument
from faxout.ops.serve import intake_of
from tests.intake.apiapp import USER, InProcess, in_process

REQUEST = Request({"type": "http", "client": ("192.0.2.7", 4711), "headers": []})


@pytest.fixture
def made(tmp_path: Path) -> InProcess:
    return in_process(tmp_path)


def _form(intake: Intake, **values: str) -> SendForm:
    upload = intake.store.new_upload()
    upload.write(b"hello fax")
    return SendForm(values, [NewDocument("letter.txt", "text/plain", upload)])


def _send(made: InProcess, **values: str) -> int:
    intake = intake_of(made.gw)
    account = made.gw.accounts.get(USER)
    assert account is not None
    return send(intake, account, _form(intake, **values), made.clock.now(), REQUEST).submission_id


def test_two_recipients_and_a_document_make_one_fax(made: InProcess) -> None:
    fax = _send(
        made,
        recipients="Front desk <650 555 0100>\r\nBob, +1 650 555 0101",
        cover_page="modern",
        cover_text="Hello\r\nthere",
        resolution="Low",
    )
    sub = made.gw.jobs.get_submission(fax)
    assert sub is not None
    assert [(j.number, j.name) for j in sub.jobs] == [
        ("+16505550100", "Front desk"),
        ("+16505550101", "Bob"),
    ]
    assert (sub.cover_page, sub.cover_text, sub.resolution) == ("Modern", "Hello\nthere", "low")
    assert [d.filename for d in sub.documents] == ["letter.txt"]
    assert sub.send_at == made.clock.now() and sub.client_addr == "192.0.2.7"


def test_a_send_time_is_read_in_the_forms_zone(made: InProcess) -> None:
    now = made.clock.now()
    local = f"{now.year + 1}-01-15T09:30" if now.month > 1 else f"{now.year}-12-15T09:30"
    fax = _send(made, recipients="6505550100", send_at=local, time_zone="America/New_York")
    sub = made.gw.jobs.get_submission(fax)
    assert sub is not None
    wanted = datetime.fromisoformat(local + "-05:00").astimezone(UTC)
    assert sub.send_at.astimezone(UTC) == wanted


def test_without_a_zone_the_accounts_or_utc(made: InProcess) -> None:
    assert send_at_of("2030-06-01T12:00", "UTC") == datetime(2030, 6, 1, 12, tzinfo=UTC)
    account = made.gw.accounts.get(USER)
    assert account is not None
    from faxout.intake.console.sending import zone_of

    assert zone_of("", account) == (account.time_zone or "UTC")
    assert zone_of("", Account(**{**account.__dict__, "time_zone": "Asia/Tokyo"})) == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"recipients": "6505550100\n911"}, "recipients", "line 2: '911' it is an emergency"),
        ({"recipients": "Desk"}, "recipients", "line 1: 'Desk' a name without a number"),
        ({"recipients": " \n "}, "recipients", "at least one fax number"),
        ({"recipients": "6505550100", "resolution": "fine"}, "resolution", "High or Low"),
        ({"recipients": "6505550100", "send_at": "tomorrow"}, "send_at", "not a date"),
        (
            {
                "recipients": "6505550100",
                "send_at": "2031-03-30T02:30",
                "time_zone": "Europe/Berlin",
            },
            "send_at",
            "does not exist in Europe/Berlin",
        ),
        ({"recipients": "6505550100", "time_zone": "Mars/Base"}, "time_zone", "unknown time zone"),
        ({"recipients": "6505550100", "cover_page": "Nope"}, "cover_page", "is not installed"),
        ({"recipients": "6505550100", "send_at": "2099-01-01T00:00"}, "send_at", "days ahead"),
    ],
)
def test_refusals_name_the_field(
    made: InProcess, values: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(FormError) as caught:
        _send(made, **values)
    assert caught.value.field == field and says in caught.value.detail
    assert caught.value.status == 400


def test_a_prohibited_account_cannot_send(made: InProcess) -> None:
    intake = intake_of(made.gw)
    account = made.gw.accounts.get(USER)
    assert account is not None
    barred = Account(**{**account.__dict__, "fax_prohibited": True})
    with pytest.raises(FormError) as caught:
        send(intake, barred, _form(intake, recipients="6505550100"), made.clock.now(), REQUEST)
    assert caught.value.status == 403


def test_no_document_is_refused(made: InProcess) -> None:
    intake = intake_of(made.gw)
    account = made.gw.accounts.get(USER)
    assert account is not None
    with pytest.raises(FormError) as caught:
        send(intake, account, SendForm({"recipients": "6505550100"}), made.clock.now(), REQUEST)
    assert caught.value.field == "document"
