"""Serving the console on the app: its routers, error pages and static files."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import jinja2
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from faxout.db.secrets import shared_secret
from faxout.intake.console import format as fmt
from faxout.intake.console.routes import routers
from faxout.intake.console.session import SessionCodec
from faxout.intake.console.settings import ConsoleSettings
from faxout.intake.console.web import (
    HERE,
    Console,
    ConsoleError,
    SignInNeeded,
    finish,
    from_script,
    json_answer,
    page,
    signed_in,
)
from faxout.intake.services import Intake

SESSION_KEY = "console-session"


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    fmt.install(env)
    return env


def mount_console(app: FastAPI, intake: Intake, cfg: ConsoleSettings) -> None:
    """Serve the console on ``app`` (needs the status API's services: ``intake.api``)."""
    assert intake.api is not None

    def key() -> str:
        return shared_secret(intake.engine, SESSION_KEY, datetime.now(UTC))

    app.state.console = Console(intake, intake.api, cfg, SessionCodec(key, cfg), _templates())

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> Response:
        if from_script(request):
            return json_answer(request, {"error": exc.message}, exc.status)
        viewer = getattr(request.state, "viewer", None)
        if viewer is None:  # refused before the page's own sign-in check: the top bar all the same
            with contextlib.suppress(SignInNeeded, ConsoleError):
                viewer = await signed_in(request)
        return page(
            request, "error.html", viewer, status=exc.status, title="Error", message=exc.message
        )

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, exc: SignInNeeded) -> Response:
        if request.method != "GET" or from_script(request):
            return json_answer(request, {"error": "sign in again"}, 401)
        from urllib.parse import quote

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = Response(status_code=303, headers={"Location": f"/login?next={quote(target)}"})
        return finish(request, response)

    for router in routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
