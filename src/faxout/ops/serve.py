"""The HTTP app of a gateway: the intake wired to its services and, unless the process is an
API node, to the pipeline that runs beside it."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from fastapi import FastAPI

from faxout.accounts.locks import LoginLocks
from faxout.accounts.tokens import TokenRepo
from faxout.intake.app import create_app
from faxout.intake.overview import LineState, line_states
from faxout.intake.sentpages import SentPages
from faxout.intake.services import Api, Background, Intake
from faxout.jobs.lifecycle import Lifecycle
from faxout.ops.gateway import Gateway
from faxout.ops.metrics import mount_metrics
from faxout.transmit.pages import HeaderStyle
from faxout.webhooks.endpoints import Endpoints

if TYPE_CHECKING:
    from faxout.ops.check import Finding

SETTINGS_ENV = "FAXOUT_SERVE_SETTINGS"


def intake_of(gw: Gateway) -> Intake:
    """The intake's services and limits, from the gateway's."""
    s = gw.settings

    def lines() -> list[LineState]:
        return line_states(gw.engine, gw.jobs, gw.clock.now(), s.transmit.transport)

    def check() -> list[Finding]:
        # Imported when first run: Alembic and the probes stay out of a process never asked.
        from faxout.ops.check import run_checks

        return run_checks(s)

    return Intake(
        engine=gw.engine,
        store=gw.store,
        clock=gw.clock,
        authenticator=gw.authenticator,
        limits=s.limits,
        http=s.http,
        trusted_proxies=tuple(s.trusted_proxies),
        api_limits=s.api,
        console=s.console,
        reachable=s.transmit.dial.reachable_for(s.transmit.transport),
        covers=gw.installed_covers,
        lines=lines,
        check=check,
        api=Api(
            tokens=TokenRepo(gw.engine),
            accounts=gw.accounts,
            jobs=gw.jobs,
            lifecycle=Lifecycle(gw.engine, s.retry.kill_time),
            webhooks=Endpoints(gw.engine, allow_private=s.webhooks.allow_private),
            pages=SentPages(
                gw.engine,
                gw.store,
                gw.clock,
                style=HeaderStyle(s.header.enabled, s.header.format, s.header.time_zone),
                ident=s.transmit.ident,
                cache_dir=s.data_dir / "cache" / "pages",
            ),
            locks=LoginLocks(gw.engine),
        ),
    )


def gateway_app(gw: Gateway, *, pipeline: bool = True) -> FastAPI:
    """The app for one gateway; with ``pipeline`` it also renders, schedules and sends, without
    it (an API node) it hands each new submission to the task queue."""

    def background() -> Background:
        from faxout.ops.runtime import ApiNode, Pipeline

        return Pipeline(gw) if pipeline else ApiNode(gw)

    app = create_app(intake_of(gw), background=background)
    if gw.settings.console.enabled:
        from faxout.intake.console.send import STATE_KEY, previews_for

        s = gw.settings
        previews = previews_for(s.data_dir, s.coverpages_path, s.render.options())
        setattr(app.state, STATE_KEY, previews)
    mount_metrics(app, gw.settings.metrics, gw.engine, gw.clock)
    return app


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
    return gateway_app(build_gateway(settings), pipeline=pipeline)
