"""A fax's page: recipients and their calls, the pages as sent (the status API's very bytes),
the PDF, the reports as sent, cancel, retry, resend, and what another account may not see."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from html import escape as html_escape
from pathlib import Path

from starlette.testclient import TestClient

from faxout.intake.console.fax import recipients_of
from tests.intake.apiapp import USER, InProcess
from tests.intake.console.sending import Sending, sending
from tests.intake.console.signedin import console, sign_in
from tests.pipeline.harness import result

DESK, LAB, WRONG = "16505550100", "16505550101", "16505550199"
FETCH = {"X-Requested-With": "fetch"}


def flash(s: Sending) -> str:
    """The message the last redirect left for the next page."""
    return s.client.get("/").text.split('class="flash', 1)[1].split("</div>", 1)[0]


def queued(made: InProcess, client: TestClient) -> int:
    """A fax through the status API, left queued (nothing sends it)."""
    body = {
        "to": [{"number": DESK}],
        "documents": [{"filename": "a.txt", "content_base64": "SGk="}],
    }
    answer = client.post("/api/v1/faxes", json=body, headers=made.auth)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_the_page_shows_recipients_attempts_pages_and_reports(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        s.line.answers["+" + WRONG] = [lambda n: result("invalid_number", n)]
        fid = s.fax((DESK, "Front desk"), (WRONG, "Nobody"), labels={"case": "42"})
        s.run()
        s.reports()
        page = s.client.get(f"/faxes/{fid}")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        html = page.text
        assert f"<h1>Fax {fid}</h1>" in html and "memo.txt" in html and "case: 42" in html
        assert "Front desk" in html and "+1 650-555-0199" in html
        assert 'class="badge warn" data-fax-state="partial">Partly delivered<' in html
        assert ">Delivered<" in html and ">Failed<" in html and ">No such number<" in html
        assert html.count('<tr data-attempt="1">') == 2 and "2 of 2" in html
        # Only the failed recipient has a Retry button; nothing is left to cancel.
        wrong = s.api(f"/faxes/{fid}")["recipients"][1]
        assert html.count("/retry") == 1 and f"/recipients/{wrong['id']}/retry" in html
        assert f"/faxes/{fid}/cancel" not in html
        # Every page, cover first, as thumbnails linking to the full-size image; the PDF.
        assert 'alt="Page 1 of 2, the cover page"' in html and f"/faxes/{fid}/pages/2.png" in html
        assert f'href="/faxes/{fid}/fax.pdf' in html
        # Everything is final: no live region at all.
        assert "data-live=" not in html and "data-live-stop" in html
        # The delivery report, and the message as it was handed to the relay.
        assert ">Final</a>" in html and "a@example.com" in html
        (report,) = re.findall(rf'href="/faxes/{fid}/reports/(\d+)"', html)
        shown = s.client.get(f"/faxes/{fid}/reports/{report}")
        assert shown.status_code == 200, shown.text
        assert "The message as sent" in shown.text and "a@example.com" in shown.text
        assert "Subject</dt>" in shown.text and f"fax-{fid}.pdf" in shown.text
        # The very message the Maildir got: its Message-ID, its text.
        mail = message_from_bytes(next((tmp_path / "outbox" / "new").iterdir()).read_bytes())
        # A long Message-ID is folded onto a second header line: the id itself is on the page.
        message_id = re.search(r"<[^>]+>", str(mail["Message-ID"]))
        assert message_id is not None and html_escape(message_id.group(0)) in shown.text
        assert "All 2 pages confirmed" in shown.text or "Delivered to" in shown.text


def test_page_images_are_the_status_apis_bytes(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        fid = s.fax((DESK, "Front desk"), (LAB, "Lab"))
        before = s.client.get(f"/faxes/{fid}")
        assert "The pages are not rendered yet" in before.text
        assert s.client.get(f"/faxes/{fid}/pages/1.png").status_code == 409
        s.run()
        lab = s.api(f"/faxes/{fid}")["recipients"][1]["id"]
        for n in (1, 2):
            for params in (
                {},
                {"recipient": lab},
                {"width": 180},
                {"width": 300, "recipient": lab},
            ):
                mine = s.client.get(f"/faxes/{fid}/pages/{n}.png", params=params)
                api = s.client.get(
                    f"/api/v1/faxes/{fid}/pages/{n}.png", params=params, headers=s.made.auth
                )
                assert mine.status_code == api.status_code == 200, mine.text
                assert mine.content == api.content and mine.content[:4] == b"\x89PNG"
                assert mine.headers["etag"] == api.headers["etag"]
                assert mine.headers["cache-control"] == "private, no-cache"
                assert "default-src 'none'" in mine.headers["content-security-policy"]
        etag = s.client.get(f"/faxes/{fid}/pages/1.png").headers["etag"]
        again = s.client.get(f"/faxes/{fid}/pages/1.png", headers={"If-None-Match": etag})
        assert again.status_code == 304 and not again.content
        # The recipient's own header band: another recipient's page differs.
        desk = s.client.get(f"/faxes/{fid}/pages/1.png").content
        assert desk != s.client.get(f"/faxes/{fid}/pages/1.png?recipient={lab}").content
        page = s.client.get(f"/faxes/{fid}", params={"recipient": lab}).text
        assert f'<option value="{lab}" selected>' in page
        assert f"/faxes/{fid}/pages/1.png?recipient={lab}" in page
        pdf = s.client.get(f"/faxes/{fid}/fax.pdf", params={"recipient": lab})
        api_pdf = s.client.get(f"/api/v1/faxes/{fid}/fax.pdf?recipient={lab}", headers=s.made.auth)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == api_pdf.content and pdf.content.startswith(b"%PDF")
        for bad in ("3.png", "0.png", "x.png"):
            assert s.client.get(f"/faxes/{fid}/pages/{bad}").status_code == 404
        assert s.client.get(f"/faxes/{fid}/pages/1.png?width=20").status_code == 404


def test_the_live_part_follows_a_fax_until_it_is_final(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        fid = s.fax((DESK, "Front desk"))
        page = s.client.get(f"/faxes/{fid}").text
        assert f'data-live="/faxes/{fid}/live?pages=0"' in page
        live = s.client.get(f"/faxes/{fid}/live?pages=0", headers=FETCH)
        assert live.status_code == 200 and "<html" not in live.text
        assert ">Queued<" in live.text and "data-live-stop" not in live.text
        s.run()
        live = s.client.get(f"/faxes/{fid}/live?pages=0", headers=FETCH).text
        assert ">Delivered<" in live and "data-live-stop" in live and 'data-attempt="1"' in live
        assert "The pages are rendered" in live  # the page was shown before they were


def test_cancel_and_nothing_left_to_cancel(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        later = (s.made.clock.now() + timedelta(hours=2)).isoformat()
        fid = s.fax((DESK, ""), send_at=later)
        page = s.client.get(f"/faxes/{fid}").text
        assert f'action="/faxes/{fid}/cancel"' in page and "data-confirm=" in page
        done = s.client.post(f"/faxes/{fid}/cancel", data={"csrf": s.csrf}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == f"/faxes/{fid}"
        assert "Canceled for the recipient not yet dialled." in flash(s)
        assert s.api(f"/faxes/{fid}")["state"] == "canceled"
        again = s.client.post(f"/faxes/{fid}/cancel", data={"csrf": s.csrf})
        assert (
            again.status_code == 200
            and "Nothing left to cancel (recipients: canceled)" in again.text
        )
        assert 'class="flash error"' in again.text


def test_retry_a_failed_recipient(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        s.line.answers["+" + WRONG] = [lambda n: result("invalid_number", n)]
        fid = s.fax((WRONG, "Wrong"))
        s.run()
        rid = s.api(f"/faxes/{fid}")["recipients"][0]["id"]
        url = f"/faxes/{fid}/recipients/{rid}/retry"
        assert s.client.post(url, data={"csrf": ""}).status_code == 403  # no CSRF token
        done = s.client.post(url, data={"csrf": s.csrf}, follow_redirects=False)
        assert done.status_code == 303 and "retried now" in flash(s)
        s.run()
        fax = s.api(f"/faxes/{fid}")
        assert fax["state"] == "delivered" and len(fax["recipients"][0]["attempts"]) == 2
        refused = s.client.post(url, data={"csrf": s.csrf})
        assert "Only a failed or interrupted recipient is retried." in refused.text
        assert (
            s.client.post(f"/faxes/{fid}/recipients/999/retry", data={"csrf": s.csrf}).status_code
            == 404
        )


def test_resend_makes_a_new_fax_of_the_same_documents(tmp_path: Path) -> None:
    with sending(tmp_path) as s:
        fid = s.fax((DESK, "Front desk"), labels={"case": "42"})
        made = s.client.post(
            f"/faxes/{fid}/resend",
            data={"csrf": s.csrf, "recipients": f"{LAB}|Lab\n\n+1 650 555 0102\n"},
            follow_redirects=False,
        )
        assert made.status_code == 303, made.text
        new = int(made.headers["location"].rsplit("/", 1)[1])
        assert new != fid and f"Fax {new} was made from fax {fid}" in flash(s)
        original, copy = s.api(f"/faxes/{fid}"), s.api(f"/faxes/{new}")
        assert copy["documents"] == original["documents"]
        assert copy["labels"] == {"case": "42", "resent_from": str(fid)}
        assert [(r["number"], r["name"]) for r in copy["recipients"]] == [
            ("+16505550101", "Lab"),
            ("+16505550102", ""),
        ]
        bad = s.client.post(
            f"/faxes/{fid}/resend", data={"csrf": s.csrf, "recipients": "not a number|X"}
        )
        assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
        assert "not a number|X</textarea>" in bad.text
        empty = s.client.post(f"/faxes/{fid}/resend", data={"csrf": s.csrf, "recipients": " "})
        assert empty.status_code == 422 and "Give at least one number" in empty.text


def test_another_accounts_fax_is_not_found(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        fid = queued(made, client)
        assert client.get(f"/faxes/{fid}").status_code == 200
        made.gw.accounts.add(
            "16505559999", email="b@example.com", password_hash=made.gw.passwords.hash("other pass"),
            now=made.clock.now(),
        )  # fmt: skip
        client.cookies.clear()
        other = sign_in(client, "16505559999", "other pass")
        for path in ("", "/live", "/pages/1.png", "/fax.pdf", "/reports/1"):
            seen = client.get(f"/faxes/{fid}{path}")
            assert seen.status_code == 404, path
        assert f"There is no fax {fid}." in client.get(f"/faxes/{fid}").text
        for action in ("cancel", "resend", "recipients/1/retry"):
            done = client.post(f"/faxes/{fid}/{action}", data={"csrf": other, "recipients": DESK})
            assert done.status_code == 404, action
        assert client.get("/faxes/nope").status_code == 404
        assert made.gw.jobs.get_submission(fid) is not None and USER


def test_a_post_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        fid = queued(made, client)
        for action in ("cancel", "resend"):
            refused = client.post(
                f"/faxes/{fid}/{action}", data={"csrf": "wrong", "recipients": DESK}
            )
            assert refused.status_code == 403, action
        assert client.get(f"/api/v1/faxes/{fid}", headers=made.auth).json()["state"] == "queued"


def test_resend_lines_are_number_then_name() -> None:
    read = recipients_of("+1 650 555 0100 | Front  desk\n\n16505550101\n")
    assert [(t.number, t.name) for t in read] == [
        ("+1 650 555 0100", "Front desk"),
        ("16505550101", ""),
    ]


def test_the_faxs_webhook_events_are_listed(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        hook = client.post(
            "/api/v1/webhooks", json={"url": "https://hooks.example.com/fax"}, headers=made.auth
        )
        assert hook.status_code == 201, hook.text
        fid = queued(made, client)
        html = client.get(f"/faxes/{fid}").text
        assert "Webhook events" in html
        assert f'href="/account/webhooks/{hook.json()["id"]}"><code>fax.queued</code>' in html
        other = queued(made, client)
        client.delete(f"/api/v1/webhooks/{hook.json()['id']}", headers=made.auth)
        assert "Webhook events" not in client.get(f"/faxes/{other}").text
