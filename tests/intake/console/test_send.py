"""The Send page in this process: the form, the fax it makes, the numbers check, previews."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from faxout.intake.console import preview as pv
from faxout.render.options import RenderOptions
from tests.intake.apiapp import USER
from tests.intake.console.signedin import console
from tests.render.fax import DATA

LETTER = ("letter.txt", b"Dear reader,\nhello.\n", "text/plain")
SCRIPT = {"X-Requested-With": "fetch", "Accept": "application/json"}


def _fields(token: str, **values: str) -> dict[str, str]:
    return {"csrf": token, "cover_page": "Default", "resolution": "high", **values}


def test_the_form_is_shown_with_the_accounts_choices(tmp_path: Path) -> None:
    with console(tmp_path) as (_made, client, _token):
        page = client.get("/send")
        assert page.status_code == 200
        html = page.text
        assert 'enctype="multipart/form-data"' in html and 'name="document"' in html
        assert '<option value="Modern"' in html and '<option value="None"' in html
        assert "<option selected>UTC</option>" in html
        assert 'src="/static/send.js' in html and "prohibited" not in html


def test_a_fax_to_two_recipients_is_made(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        answer = client.post(
            "/send",
            data=_fields(token, recipients="Front desk <650 555 0100>\n+1 650 555 0101"),
            files=[("document", LETTER)],
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        fax = int(answer.headers["location"].rsplit("/", 1)[1])
        sub = made.gw.jobs.get_submission(fax)
        assert sub is not None and sub.username == USER
        assert [(j.number, j.name) for j in sub.jobs] == [
            ("+16505550100", "Front desk"),
            ("+16505550101", ""),
        ]
        assert [d.filename for d in sub.documents] == ["letter.txt"]


def test_a_script_gets_the_new_fax_as_json(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        answer = client.post(
            "/send",
            data=_fields("", recipients="6505550100"),
            files=[("document", LETTER)],
            headers={**SCRIPT, "X-CSRF-Token": token},
        )
        assert answer.status_code == 201
        assert answer.json()["location"] == f"/faxes/{answer.json()['id']}"
        assert made.gw.jobs.get_submission(answer.json()["id"]) is not None


def test_a_bad_number_names_its_line_and_keeps_the_input(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        typed = "Front desk <650 555 0100>\nBob, 911"
        answer = client.post(
            "/send",
            data=_fields(token, recipients=typed, cover_text="Keep <me>", cover_page="Modern"),
            files=[("document", LETTER)],
        )
        assert answer.status_code == 400
        html = answer.text
        assert "line 2: &#39;Bob, 911&#39; it is an emergency number" in html
        assert "Front desk &lt;650 555 0100&gt;\nBob, 911</textarea>" in html
        assert "Keep &lt;me&gt;</textarea>" in html
        assert '<option value="Modern" selected>' in html
        assert 'aria-invalid="true"' in html
        assert made.gw.jobs.submission_ids(USER, limit=5) == []
        scripted = client.post(
            "/send",
            data=_fields("", recipients=typed),
            files=[("document", LETTER)],
            headers={**SCRIPT, "X-CSRF-Token": token},
        )
        assert scripted.status_code == 400 and scripted.json()["field"] == "recipients"


def test_a_send_time_in_a_zone_becomes_utc(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        later = (made.clock.now() + timedelta(days=30)).astimezone(ZoneInfo("Asia/Tokyo"))
        typed = later.strftime("%Y-%m-%dT%H:%M")
        answer = client.post(
            "/send",
            data=_fields(token, recipients="6505550100", send_at=typed, time_zone="Asia/Tokyo"),
            files=[("document", LETTER)],
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        sub = made.gw.jobs.get_submission(int(answer.headers["location"].rsplit("/", 1)[1]))
        assert sub is not None
        wanted = datetime.fromisoformat(typed + "+09:00").astimezone(UTC)
        assert sub.send_at.astimezone(UTC) == wanted


def test_csrf_is_needed(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        answer = client.post(
            "/send", data=_fields("forged", recipients="6505550100"), files=[("document", LETTER)]
        )
        assert answer.status_code == 403
        assert made.gw.jobs.submission_ids(USER, limit=5) == []
        numbers = client.post("/send/numbers", json={"text": "6505550100"}, headers=SCRIPT)
        assert numbers.status_code == 403


def test_numbers_are_checked_as_json(tmp_path: Path) -> None:
    with console(tmp_path) as (_made, client, token):
        answer = client.post(
            "/send/numbers",
            json={"text": "Desk <650 555 0100>\n\n911"},
            headers={**SCRIPT, "X-CSRF-Token": token},
        )
        assert answer.status_code == 200
        desk, emergency = answer.json()["checks"]
        assert desk["ok"] and desk["shown"] == "+1 650-555-0100" and desk["name"] == "Desk"
        assert not emergency["ok"] and emergency["line"] == 3 and "emergency" in emergency["reason"]


def test_a_prohibited_account_sees_a_notice_and_cannot_send(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        account = made.gw.accounts.get(USER)
        assert account is not None
        made.gw.accounts.update(USER, now=made.clock.now(), fax_prohibited=True)
        page = client.get("/send")
        assert "Faxing is prohibited for this account" in page.text
        assert 'id="send-button" disabled' in page.text
        answer = client.post(
            "/send", data=_fields(token, recipients="6505550100"), files=[("document", LETTER)]
        )
        assert answer.status_code == 403 and "prohibited" in answer.text


def test_the_preview_shows_a_pdfs_pages(tmp_path: Path) -> None:
    own = pv.OwnPool(None)
    try:
        with console(tmp_path) as (made, client, token):
            made.app.state.send_previews = pv.Previews(tmp_path / "preview", own, RenderOptions())
            pdf = ("letter_a4.pdf", (DATA / "letter_a4.pdf").read_bytes(), "application/pdf")
            answer = client.post(
                "/send/preview",
                data=_fields("", recipients="Bob <+49 30 1234567>", cover_page="None"),
                files=[("document", pdf)],
                headers={**SCRIPT, "X-CSRF-Token": token},
            )
            assert answer.status_code == 200, answer.text
            got = answer.json()
            assert got["pages"] == 1 and len(got["images"]) == 1
            thumb = client.get(got["images"][0] + "?width=200")
            assert thumb.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(thumb.content)).width == 200
            cover = client.post(
                "/send/cover",
                json={"cover_page": "Default", "cover_text": "Hi", "recipients": ""},
                headers={**SCRIPT, "X-CSRF-Token": token},
            )
            assert cover.status_code == 200 and cover.content[:4] == b"\x89PNG"
            assert client.get("/send/preview/" + "x" * 22 + "/1.png").status_code == 404
    finally:
        own.close()


def test_a_group_or_contact_from_the_address_book_fills_the_recipients(tmp_path: Path) -> None:
    from faxout.accounts.contacts import AddressBook

    with console(tmp_path) as (made, client, _token):
        account = made.gw.accounts.get(USER)
        assert account is not None
        book = AddressBook(made.gw.engine)
        now = made.clock.now()
        desk = book.add(account, "Front desk", "16505550100", now=now)
        lab = book.add(account, "Lab", "16505550101", now=now)
        group = book.add_group(account.id, "Clinic", now=now)
        book.set_members(account.id, group.id, [desk.id, lab.id])
        html = client.get("/send", params={"group": group.id}).text
        assert "16505550100|Front desk\n16505550101|Lab</textarea>" in html
        html = client.get("/send", params={"contact": lab.id}).text
        assert "16505550101|Lab</textarea>" in html
        assert "</textarea>" in client.get("/send", params={"group": "9999"}).text
        lines = client.get("/contacts.json", params={"group": group.id}, headers=SCRIPT).json()
        assert lines == {"lines": ["16505550100|Front desk", "16505550101|Lab"]}


def test_labels_are_given_and_a_bad_one_is_named(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        answer = client.post(
            "/send",
            data=_fields(token, recipients="6505550100", labels="matter: 2026-114\nward=3\n"),
            files=[("document", LETTER)],
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        fax = int(answer.headers["location"].rsplit("/", 1)[1])
        sub = made.gw.jobs.get_submission(fax)
        assert sub is not None and sub.labels == {"matter": "2026-114", "ward": "3"}
        listed = client.get("/", params={"label": "matter:2026-114"}).text
        assert f'data-fax="{fax}"' in listed
        bad = client.post(
            "/send",
            data=_fields(token, recipients="6505550100", labels="no separator here"),
            files=[("document", LETTER)],
        )
        assert bad.status_code == 400 and "line 1 is not key: value" in bad.text
        assert "no separator here</textarea>" in bad.text


def test_the_same_form_posted_twice_makes_one_fax(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        form = client.get("/send").text
        key = form.split('name="form_key" value="', 1)[1].split('"', 1)[0]
        assert len(key) >= 16
        assert key not in client.get("/send").text  # each form shown has its own
        fields = _fields(token, recipients="6505550100", form_key=key)
        first = client.post(
            "/send", data=fields, files=[("document", LETTER)], follow_redirects=False
        )
        again = client.post(
            "/send", data=fields, files=[("document", LETTER)], follow_redirects=False
        )
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == again.headers["location"]
        assert "This form was sent already" in client.get(again.headers["location"]).text
        other = {**fields, "recipients": "6505550101"}  # the same form, changed after sending
        changed = client.post("/send", data=other, files=[("document", LETTER)])
        assert changed.status_code == 409 and "already sent as fax" in changed.text
        ids = made.gw.jobs.submission_ids(USER, limit=10)
        assert len(ids) == 1
