"""``server_options``: uvicorn believes X-Forwarded-For only from ``trusted_proxies``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn

from faxout.errors import ConfigError
from faxout.intake.proxies import server_options
from faxout.ops.settings import Settings, load_settings


def client_seen(settings: Settings, peer: str, xff: str | None) -> str:
    """The client address an app behind uvicorn, configured as ``faxout serve`` does, sees."""
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    config = uvicorn.Config(app, **server_options(settings.trusted_proxies))
    config.load()
    headers = [(b"x-forwarded-for", xff.encode())] if xff is not None else []
    scope = {"type": "http", "client": (peer, 5000), "headers": headers, "scheme": "http"}
    asyncio.run(config.loaded_app(scope, None, None))
    return seen[0]


def test_by_default_the_header_is_ignored_even_from_localhost() -> None:
    default = Settings()
    assert default.trusted_proxies == []
    assert client_seen(default, "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert client_seen(default, "::1", "203.0.113.9") == "::1"


def test_a_trusted_proxy_gives_the_right_most_untrusted_address() -> None:
    settings = Settings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"])
    # the client forged the left part; the two proxies appended what they saw
    chain = "198.51.100.1, 203.0.113.5, 10.2.3.4"
    assert client_seen(settings, "192.0.2.1", chain) == "203.0.113.5"
    assert client_seen(settings, "10.0.0.9", "203.0.113.5") == "203.0.113.5"
    # a peer that is not a trusted proxy is the client, whatever it claims
    assert client_seen(settings, "198.51.100.3", "10.0.0.1") == "198.51.100.3"
    # a trusted proxy that sends no header is the client itself
    assert client_seen(settings, "192.0.2.1", None) == "192.0.2.1"


def test_trusted_proxies_must_be_addresses_or_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAXOUT_TRUSTED_PROXIES", '["10.0.0.1", "fd00::/8"]')
    assert load_settings().trusted_proxies == ["10.0.0.1", "fd00::/8"]
    for bad in ('["proxy.example"]', '["10.0.0.1/8"]', '["*"]'):
        monkeypatch.setenv("FAXOUT_TRUSTED_PROXIES", bad)
        with pytest.raises(ConfigError, match="trusted_proxies"):
            load_settings()
