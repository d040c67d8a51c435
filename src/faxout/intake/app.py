"""The ASGI application: the FaxOut endpoint, the health check and the OpenAPI schema.

There is no ``/docs`` or ``/redoc`` page: FastAPI's pages load Swagger UI and ReDoc from a CDN,
which would run a third party's scripts in the browser of whoever opens them; ``/api/v1/docs``
lists the operations on a page without scripts. The schema is at
``/api/v1/openapi.json`` (and, as before, ``/openapi.json``) for any viewer one runs oneself.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any

import anyio
from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from faxout import __version__
from faxout.db.engine import reading
from faxout.errors import FaxoutError
from faxout.intake.api.openapi import DOCS_CSP, FAXOUT_EXTRA, docs_page
from faxout.intake.committer import GroupCommitter
from faxout.intake.edge import STATE_KEY, EdgeSettings
from faxout.intake.faxout.endpoint import PATHS, faxout_endpoint
from faxout.intake.services import Background, Intake

FAXOUT_METHODS = ["POST", "PUT", "GET"]
SCHEMA_URL = "/api/v1/openapi.json"
OLD_SCHEMA_URL = "/openapi.json"
DOCS_URL = "/api/v1/docs"  # a page without scripts (openapi.docs_page)


def _ping(intake: Intake) -> None:
    with reading(intake.engine) as conn:
        conn.execute(text("SELECT 1"))
    intake.store.check()


class Gateway(FastAPI):
    """The FastAPI app, with the FaxOut endpoint answered before FastAPI's middleware stack and
    router. That endpoint is the hot path of legacy clients, and it needs none of what lies in
    between: it answers every failure with its own ``5``, bounds its body itself (the edge and
    the parser) and sets no ``/api/v1`` rate-limit headers. Matching it last, behind the API's
    and the console's routes and five middlewares, cost about a third of its time on the event
    loop (docs/benchmarks.md, Intake 2026-12-03). Any other method on its paths (a 405 naming
    the allowed ones) still goes through FastAPI."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS and scope["method"] in FAXOUT_METHODS:
            scope["app"] = self
            response = await faxout_endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(intake: Intake, *, background: Callable[[], Background] | None = None) -> FastAPI:
    """The app for ``intake``; ``background`` makes what runs beside it (the pipeline: render,
    schedule, send), started and stopped with the app."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        app.state.committer = GroupCommitter(intake.engine)
        app.state.background = None
        if background is not None:
            app.state.background = background()
            app.state.background.start()
        try:
            # The lifespan state reaches the server's connections (faxout.intake.edge).
            yield {STATE_KEY: EdgeSettings.of(intake.http, intake.trusted_proxies)}
        finally:
            app.state.committer.close()
            if app.state.background is not None:
                await anyio.to_thread.run_sync(app.state.background.stop)
            previews = getattr(app.state, "send_previews", None)  # the console's render worker
            if previews is not None:
                await anyio.to_thread.run_sync(previews.close)

    app = Gateway(
        lifespan=lifespan,
        title="faxout",
        version=__version__,
        summary="Self-hosted fax gateway speaking the RingCentral FaxOut API",
        docs_url=None,
        redoc_url=None,
        openapi_url=SCHEMA_URL,
    )
    app.state.intake = intake
    if intake.api is not None:
        from fastapi.exception_handlers import http_exception_handler
        from fastapi.exceptions import RequestValidationError
        from starlette.exceptions import HTTPException as StarletteHTTPException

        from faxout.intake.api import inbound, pages
        from faxout.intake.api.faxes import Problem
        from faxout.intake.api.ratelimit import RateLimiter, RateLimitHeaders
        from faxout.intake.api.routes import router
        from faxout.intake.api.webhooks import router as webhook_router

        @app.exception_handler(Problem)
        async def problem(request: Request, exc: Problem) -> Response:
            return exc.response(request.url.path)

        @app.exception_handler(RequestValidationError)
        async def invalid(request: Request, exc: RequestValidationError) -> Response:
            said = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            return Problem(422, "Unprocessable Content", said).response(request.url.path)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
            # FastAPI's own refusals (a body that is not JSON: 400) are problems on /api/v1 too;
            # elsewhere (the FaxOut paths' 404 and 405) the answers stay as they were.
            if not request.url.path.startswith("/api/v1/"):
                return await http_exception_handler(request, exc)
            title = HTTPStatus(exc.status_code).phrase
            headers = dict(exc.headers or {})
            said = Problem(exc.status_code, title, str(exc.detail), **headers)
            return said.response(request.url.path)

        app.include_router(router)
        app.include_router(webhook_router)
        app.include_router(pages.router)
        app.include_router(inbound.router)
        app.state.ratelimit = RateLimiter(intake.api_limits, intake.clock)
        app.add_middleware(RateLimitHeaders)
        if intake.console.enabled:
            from faxout.intake.console.mount import mount_console

            mount_console(app, intake, intake.console)

    for path in PATHS:
        app.add_api_route(
            path,
            faxout_endpoint,
            methods=FAXOUT_METHODS,
            include_in_schema=path == PATHS[0],
            summary="Submit a fax (RingCentral FaxOut API); answers one digit 0-5",
            response_class=Response,
            openapi_extra=FAXOUT_EXTRA,
        )
    described = app.openapi

    def only_post() -> dict[str, Any]:
        # One route for all methods, as ever (so a 405's Allow is unchanged); the spec keeps its
        # POST only: PUT and GET are the same endpoint, and a GET with a body is not one.
        if app.openapi_schema is None:
            with warnings.catch_warnings():
                # FastAPI names each method of the one route alike; the extra ones go below.
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                schema = described()
            for method in ("get", "put"):
                schema["paths"][PATHS[0]].pop(method, None)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = only_post  # type: ignore[method-assign]

    @app.get(OLD_SCHEMA_URL, include_in_schema=False)
    async def old_schema() -> Response:
        # Where the schema was before /api/v1: kept for viewers pointed there.
        return JSONResponse(app.openapi())

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs() -> Response:
        page = docs_page(app.openapi())
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/healthz", summary="200 once the gateway can take faxes")
    async def healthz(request: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(_ping, request.app.state.intake)
        except (FaxoutError, Exception) as exc:  # any failure means "not ready"
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    return app
