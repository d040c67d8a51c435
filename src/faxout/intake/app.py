"""The ASGI application: the FaxOut endpoint, the health check and the OpenAPI schema.

There is no ``/docs`` or ``/redoc`` page: FastAPI's pages load Swagger UI and ReDoc from a CDN,
which would run a third party's scripts in the browser of whoever opens them. The schema is at
``/openapi.json`` for any viewer one runs oneself.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from faxout import __version__
from faxout.errors import FaxoutError
from faxout.intake.committer import GroupCommitter
from faxout.intake.edge import STATE_KEY, EdgeSettings
from faxout.intake.faxout.endpoint import PATHS, faxout_endpoint
from faxout.ops.gateway import Gateway

FAXOUT_METHODS = ["POST", "PUT", "GET"]


def _ping(gw: Gateway) -> None:
    with gw.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    gw.store.check()


SETTINGS_ENV = "FAXOUT_SERVE_SETTINGS"


def app_from_environment() -> FastAPI:
    """App factory for ``faxout serve --workers N``: each worker process builds its gateway from
    the settings the parent resolved (passed as JSON in ``FAXOUT_SERVE_SETTINGS``)."""
    from faxout.ops.gateway import build_gateway
    from faxout.ops.logs import setup_logging
    from faxout.ops.settings import Settings

    data = json.loads(os.environ[SETTINGS_ENV])
    pipeline = data.pop("_pipeline", True)
    settings = Settings(**data)
    setup_logging(settings.log_level, settings.log_format)
    return create_app(build_gateway(settings), pipeline=pipeline)


def create_app(gateway: Gateway, *, pipeline: bool = True) -> FastAPI:
    """The app for one gateway; with ``pipeline`` it also renders, schedules and sends."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        app.state.committer = GroupCommitter(gateway.engine)
        app.state.pipeline = None
        if pipeline:
            from faxout.ops.runtime import Pipeline

            app.state.pipeline = Pipeline(gateway)
            app.state.pipeline.start()
        try:
            # The lifespan state reaches the server's connections (faxout.intake.edge).
            yield {STATE_KEY: EdgeSettings.of(gateway.settings)}
        finally:
            app.state.committer.close()
            if app.state.pipeline is not None:
                await anyio.to_thread.run_sync(app.state.pipeline.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="faxout",
        version=__version__,
        summary="Self-hosted fax gateway speaking the RingCentral FaxOut API",
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gateway

    for path in PATHS:
        app.add_api_route(
            path,
            faxout_endpoint,
            methods=FAXOUT_METHODS,
            include_in_schema=path == PATHS[0],
            summary="Submit a fax (RingCentral FaxOut API); answers one digit 0-5",
            response_class=Response,
            openapi_extra={
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "Username": {"type": "string"},
                                    "Password": {"type": "string"},
                                    "Recipient": {"type": "array", "items": {"type": "string"}},
                                    "Coverpage": {"type": "string"},
                                    "Coverpagetext": {"type": "string"},
                                    "Resolution": {"type": "string", "enum": ["Low", "High"]},
                                    "Sendtime": {"type": "string"},
                                    "Attachment": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "binary"},
                                    },
                                },
                            }
                        }
                    }
                }
            },
        )

    @app.get("/healthz", summary="200 once the gateway can take faxes")
    async def healthz(request: Request) -> Response:
        gw: Gateway = request.app.state.gateway
        try:
            await anyio.to_thread.run_sync(_ping, gw)
        except (FaxoutError, Exception) as exc:  # any failure means "not ready"
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    return app
