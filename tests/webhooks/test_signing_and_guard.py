"""Signatures as the Standard Webhooks reference library checks them; URLs the guard refuses."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from faxout.webhooks import guard
from faxout.webhooks.signing import headers, new_secret


def test_the_reference_verifier_accepts_our_signature() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = json.dumps({"type": "fax.delivered", "data": {"fax_id": 7}}).encode()
    signed = headers(secret, "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, signed) == {"type": "fax.delivered", "data": {"fax_id": 7}}


def test_the_reference_verifier_rejects_a_changed_body_or_another_secret() -> None:
    secret = new_secret()
    body = b'{"type":"fax.failed"}'
    signed = headers(secret, "msg_1", int(time.time()), body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"type":"fax.delivered"}', signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, signed | {"webhook-id": "msg_2"})


def test_two_secrets_differ() -> None:
    assert len({new_secret() for _ in range(50)}) == 50


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://example.com/x", "https://"),
        ("https:///x", "no host"),
        ("https://user:pw@example.com/x", "credentials"),
        ("https://example.com/x#frag", "fragment"),
        ("https://example.com:99999/x", "port"),
        ("https://exa mple.com/x", "spaces"),
        ("https://" + "a" * 2000 + ".com", "longer"),
        ("http://127.0.0.1:8080/x", "not a public address"),
        ("http://[::1]/x", "not a public address"),
        ("http://10.1.2.3/x", "not a public address"),
        ("http://192.168.0.5/x", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://100.64.0.1/x", "not a public address"),
        ("http://[::ffff:127.0.0.1]/x", "not a public address"),
        ("http://0.0.0.0/x", "not a public address"),
        ("http://localhost:8080/x", "this machine"),
        ("http://api.localhost/x", "this machine"),
    ],
)
def test_a_url_that_may_not_be_called_is_refused_with_its_reason(url: str, said: str) -> None:
    with pytest.raises(guard.BadUrlError, match=said):
        guard.check(url, allow_private=False)


def test_public_addresses_and_names_pass_and_private_ones_pass_when_allowed() -> None:
    assert guard.check("https://93.184.215.14/hook", allow_private=False)
    assert guard.check("https://hooks.example.com/fax?x=1", allow_private=False)
    assert guard.check("http://127.0.0.1:9/x", allow_private=True)


def test_a_name_that_resolves_inside_is_refused_at_delivery() -> None:
    with pytest.raises(guard.BadUrlError, match=r"resolves to (127\.0\.0\.1|::1)"):
        guard.resolve("http://localhost:9/x", allow_private=False)
    target = guard.resolve("http://localhost:9/x?a=b", allow_private=True)
    assert target.address in ("127.0.0.1", "::1")
    assert (target.port, target.path) == (9, "/x?a=b")
