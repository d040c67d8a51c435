"""Issue 15: the HTTP server's own limits against a real server: header size and count, header,
body and keep-alive timeouts, connection caps per address and in all, half-closed and vanished
clients. During each attack a canary fax from another account and address gets ``0``.

Timeouts are configured short (1.5 s) so that each cut takes seconds; the assertions on time are
generous bounds ("it was cut", "it ended"), never measurements."""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.intake.attack import (
    Halfway,
    canary,
    closed_within,
    connect,
    edge_server,
    fax_fields,
    head,
    healthz,
    is_open,
    multipart_body,
    reason_of,
    request_line,
    submission_count,
    usage,
    wait_for,
)
from tests.intake.records import submission_by_request
from tests.intake.wire import read_response
from tests.server import Server

MiB = 2**20
TIMEOUT = 1.5  # header_timeout and body_timeout of the `server` fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with edge_server(
        tmp_path_factory,
        "edge",
        FAXOUT_HTTP__HEADER_TIMEOUT=str(TIMEOUT),
        FAXOUT_HTTP__BODY_TIMEOUT=str(TIMEOUT),
        FAXOUT_HTTP__KEEP_ALIVE_TIMEOUT="1",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Small connection caps, and a header timeout long enough not to interfere."""
    with edge_server(
        tmp_path_factory,
        "capped",
        FAXOUT_HTTP__HEADER_TIMEOUT="120",
        FAXOUT_HTTP__MAX_CONNECTIONS_PER_ADDRESS="50",
        FAXOUT_HTTP__MAX_CONNECTIONS="120",
        FAXOUT_TRUSTED_PROXIES='["127.0.0.5"]',
    ) as srv:
        yield srv


def _fax_body() -> bytes:
    return multipart_body(fax_fields(), [("Attachment", "a.txt", b"half-closed", "")])


# -- request head ----------------------------------------------------------------------------


def test_a_head_over_max_header_bytes_is_answered_431(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        resp = read_response(sock)
    assert resp.status == 431
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fits: " + b"a" * 15_000 + b"\r\n\r\n")
        assert read_response(sock).status == 200


def _endless_head(server: Server, unit: bytes, prefix: bytes) -> Halfway:
    """Send a head that never ends, up to 64 MiB; the result is how much the server took."""

    def attack(run: Halfway) -> object:
        sent = 0
        with connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + prefix + unit[:8000])
            run.pause()  # 8 KB in: still within the limit
            try:
                while sent < 64 * MiB:
                    sock.sendall(unit)
                    sent += len(unit)
            except OSError:
                return sent
        return sent

    return Halfway(attack)


@pytest.mark.parametrize(
    ("unit", "prefix"),
    [(b"a" * 65_536, b"X-Big: "), (b"".join(b"X-H%07d: v\r\n" % i for i in range(4000)), b"")],
    ids=["one giant header line", "endless header fields"],
)
def test_an_endless_head_is_cut_with_memory_flat(
    server: Server, unit: bytes, prefix: bytes
) -> None:
    """Was: httptools took a 64 MB header line and 400 MB of headers (RSS +1-3 GB)."""
    with usage(server) as use:
        attack = _endless_head(server, unit, prefix)
        with attack:
            assert canary(server) == "0"
            assert healthz(server) == 200
        sent = attack.outcome()
    assert isinstance(sent, int) and sent < 16 * MiB, f"the server took {sent} bytes of head"
    assert use.rss_growth_mb < 50, f"server RSS grew {use.rss_growth_mb:.0f} MB"


def test_header_count_is_capped(server: Server) -> None:
    def get(n: int) -> int:
        fields = b"".join(b"X-%d: 1\r\n" % i for i in range(n - 1))
        with connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
            return read_response(sock).status

    assert get(100) == 200
    assert get(101) == 431
    assert "more than 100 header fields" in server.log()


def test_a_body_framed_two_ways_is_refused(server: Server) -> None:
    """Content-Length and Transfer-Encoding together: the way requests are smuggled past a
    proxy that frames by the other header."""
    with connect(server) as sock:
        sock.sendall(head(5, extra="Transfer-Encoding: chunked\r\n") + b"5\r\nhello\r\n0\r\n\r\n")
        assert read_response(sock).status == 400


# -- timeouts --------------------------------------------------------------------------------


def test_a_head_sent_byte_by_byte_is_cut_by_the_header_timeout(server: Server) -> None:
    def attack(run: Halfway) -> object:
        started = time.monotonic()
        with connect(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            run.pause()
            got = b""
            try:
                for _ in range(100):  # 1 byte every 0.2 s: 20 s if never cut
                    sock.sendall(b"X")
                    closed, got = closed_within(sock, 0.2)
                    if closed:
                        break
            except OSError:
                closed = True
            return closed, got, time.monotonic() - started

    trickle = Halfway(attack)
    with trickle:
        assert canary(server) == "0"
    outcome = trickle.outcome()
    assert isinstance(outcome, tuple)
    closed, got, took = outcome
    assert closed and took < 10, f"not cut after {took:.1f} s"
    assert got.startswith(b"HTTP/1.1 408")


def test_a_silent_connection_is_closed_by_the_header_timeout(server: Server) -> None:
    with connect(server) as sock:
        closed, got = closed_within(sock, 10)
    assert closed and got == b""


def _trickle_body(server: Server, send_first: bytes, then_every: float | None) -> Halfway:
    """POST a fax body of which ``send_first`` is sent at once, the rest one byte every
    ``then_every`` seconds (or never); the result is (response bytes, seconds to the cut)."""
    body = _fax_body()

    def attack(run: Halfway) -> object:
        started = time.monotonic()
        with connect(server) as sock:
            sock.sendall(head(len(body)) + send_first)
            run.pause()
            got = b""
            try:
                for i in range(len(send_first), len(body)):
                    if then_every is None:
                        break
                    sock.sendall(body[i : i + 1])
                    closed, got = closed_within(sock, then_every)
                    if closed:
                        return got, time.monotonic() - started
            except OSError:
                return got, time.monotonic() - started
            closed, more = closed_within(sock, 15)
            return got + more, time.monotonic() - started

    return Halfway(attack)


@pytest.mark.parametrize(
    ("then_every", "why"),
    [(0.2, "body slower than 1024 bytes/s"), (None, f"no body byte for {TIMEOUT} s")],
    ids=["one byte every 0.2 s", "stalled"],
)
def test_a_slow_or_stalled_body_is_cut_and_answered_5(
    server: Server, then_every: float | None, why: str
) -> None:
    before = submission_count(server.data_dir)
    trickle = _trickle_body(server, _fax_body()[:40], then_every)
    with trickle:
        assert canary(server) == "0"
    outcome = trickle.outcome()
    assert isinstance(outcome, tuple)
    got, took = outcome
    assert took < 12, f"not cut after {took:.1f} s"
    assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\n5"), got
    request_id = got.split(b"x-request-id: ")[1].split(b"\r\n")[0].decode()
    assert reason_of(request_line(server, request_id)) == f"the body arrived too slowly ({why})"
    assert submission_count(server.data_dir) == before + 1  # the canary's only


def test_an_honest_upload_with_pauses_is_not_cut(server: Server) -> None:
    """Pauses shorter than body_timeout and more than body_min_rate on average are fine."""
    body = multipart_body(fax_fields(), [("Attachment", "a.bin", b"\x01" * 20_000, "")])
    with connect(server) as sock:
        sock.sendall(head(len(body)))
        for i in range(0, len(body), 2048):
            sock.sendall(body[i : i + 2048])
            time.sleep(0.3)
        assert read_response(sock).body == b"0"


def test_an_idle_kept_alive_connection_is_closed(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock).status == 200
        closed, _ = closed_within(sock, 8)
    assert closed


# -- half-closed and vanished clients --------------------------------------------------------


def test_a_client_that_half_closes_after_its_body_gets_its_answer(server: Server) -> None:
    """Was: uvicorn closed on EOF, the fax was accepted and the 0 never sent, so the client's
    retry faxed twice."""
    body = _fax_body()
    before = submission_count(server.data_dir)
    with connect(server) as sock:
        sock.sendall(head(len(body)) + body)
        sock.shutdown(socket.SHUT_WR)
        resp = read_response(sock)
        closed, _ = closed_within(sock, 5)
    assert (resp.status, resp.body, closed) == (200, b"0", True)
    assert submission_by_request(server.data_dir, resp.headers["x-request-id"]) is not None
    assert submission_count(server.data_dir) == before + 1


def test_a_client_that_half_closes_mid_body_gets_5_and_nothing_is_kept(server: Server) -> None:
    body = _fax_body()
    before = submission_count(server.data_dir)
    with connect(server) as sock:
        sock.sendall(head(len(body)) + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        resp = read_response(sock)
    assert resp.body == b"5"
    assert reason_of(request_line(server, resp.headers["x-request-id"])) == (
        "the client closed its side before the body was complete"
    )
    assert submission_count(server.data_dir) == before
    assert list((server.data_dir / "spool").glob("upload-*")) == []


def test_a_client_that_vanishes_before_the_commit_has_nothing_accepted(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The password check is made slow (about 2 s) so that the client is certainly gone, reset
    after its whole body, before the server would commit."""
    with edge_server(
        tmp_path_factory,
        "vanish",
        FAXOUT_AUTH__ARGON2_MEMORY_KIB="19456",
        FAXOUT_AUTH__ARGON2_TIME_COST="200",
    ) as srv:
        body = _fax_body()
        with connect(srv) as sock:
            sock.sendall(head(len(body), extra="Expect: 100-continue\r\n"))
            assert sock.recv(100).startswith(b"HTTP/1.1 100")  # the endpoint is reading
            sock.sendall(body)
            time.sleep(0.8)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # closed with SO_LINGER 0: a reset, as from a client that crashed or lost its network
        assert wait_for(lambda: "faxout request" in srv.log(), 60)
        line = next(x for x in srv.log().splitlines() if "faxout request" in x)
        assert reason_of(line) == "client gone before commit"
        assert submission_count(srv.data_dir) == 0
        assert canary(srv) == "0"


# -- connection caps -------------------------------------------------------------------------


def _half_requests(server: Server, sources: list[str], each: int) -> list[socket.socket]:
    socks = []
    for source in sources:
        for _ in range(each):
            sock = connect(server, source)
            with contextlib.suppress(OSError):  # refused at once
                sock.sendall(b"POST /faxapi.asp HTTP/1.1\r\nHost: x\r\nContent-Le")
            socks.append(sock)
    return socks


def test_idle_half_requests_from_one_address_are_capped(capped: Server) -> None:
    """Was: ~20 000 of them exhausted the file descriptors; /healthz and faxes were refused."""
    socks = _half_requests(capped, ["127.0.0.1"], 300)
    try:
        assert wait_for(lambda: sum(map(is_open, socks)) == 50), sum(map(is_open, socks))
        assert healthz(capped, "127.0.0.2") == 200
        assert canary(capped, "127.0.0.3") == "0"
        assert sum(map(is_open, socks)) == 50  # held, and nothing else was refused
    finally:
        for sock in socks:
            sock.close()
    assert "over max_connections_per_address" in capped.log()


def test_idle_half_requests_from_many_addresses_make_room_for_new_ones(capped: Server) -> None:
    """At max_connections a new connection replaces the longest idle one."""
    sources = [f"127.0.0.{n}" for n in range(10, 15)]
    socks = _half_requests(capped, sources, 40)  # 200 connections, over the cap of 120
    try:
        assert wait_for(lambda: sum(map(is_open, socks[:80])) == 0)
        assert healthz(capped, "127.0.0.2") == 200
        assert canary(capped, "127.0.0.3") == "0"
        assert sum(map(is_open, socks[100:])) == 100  # the newest are still served
        assert sum(map(is_open, socks)) <= 120
    finally:
        for sock in socks:
            sock.close()


def test_a_trusted_proxy_is_not_held_to_the_per_address_cap(capped: Server) -> None:
    """Behind a reverse proxy every client comes from the proxy's address."""
    socks = _half_requests(capped, ["127.0.0.5"], 60)
    try:
        # Finish the last request: once it is answered, all 60 were accepted (in order).
        socks[-1].sendall(b"ngth: 0\r\n\r\n")
        assert read_response(socks[-1]).body == b"5"
        assert sum(map(is_open, socks)) == 60
    finally:
        for sock in socks:
            sock.close()


# -- API docs --------------------------------------------------------------------------------


def test_no_api_docs_page_loads_third_party_scripts(server: Server) -> None:
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert httpx.get(server.url + path, timeout=10).status_code == 404
    schema = httpx.get(server.url + "/openapi.json", timeout=10)
    assert schema.status_code == 200 and "/faxapi.asp" in schema.json()["paths"]
