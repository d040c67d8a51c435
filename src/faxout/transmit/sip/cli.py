"""``faxout sip-receiver`` and ``faxout sip-send``: the SIP stack from the command line."""

from __future__ import annotations

import json
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr

from faxout.errors import FaxoutError
from faxout.transmit.cli import data_dir_option, show_progress, summary
from faxout.transmit.result import FaxCall
from faxout.transmit.sip.config import SipConfig, split_hostport
from faxout.transmit.sip.media import MediaConfig
from faxout.transmit.sip.receiver import ReceivedFax, ReceiverConfig, SipReceiver
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.stack import Credentials


def _hostport(_ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return split_hostport(value, any_port=param.name == "listen")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _settings(ctx: click.Context) -> SipConfig:
    """``transmit.sip`` from the settings (the defaults when run without the faxout group)."""
    settings = getattr(ctx.find_root().obj, "settings", None)
    try:
        return settings().transmit.sip if callable(settings) else SipConfig()
    except FaxoutError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("sip-receiver")
@click.option(
    "--listen",
    default="127.0.0.1:5080",
    show_default=True,
    callback=_hostport,
    help="Address and UDP port to answer SIP calls on (port 0: any free port).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FAXOUT_DATA_DIR",
    help="Faxes are stored in DATA_DIR/received (default: the configured data_dir).",
)
@click.option(
    "--t38",
    type=click.Choice([m.value for m in T38Mode]),
    default=T38Mode.REQUEST.value,
    show_default=True,
    help="off: G.711 only; accept: T.38 when the caller asks; request: ask for T.38 ourselves.",
)
@click.option("--ident", default="faxout receiver", show_default=True, help="Our CSID.")
@click.option("--register-at", callback=_hostport, help="Registrar host:port to REGISTER with.")
@click.option("--user", help="User to register (and digest user name).")
@click.option("--password", envvar="FAXOUT_SIP_PASSWORD", help="Digest password (env ok).")
@click.option(
    "--hang-up-after-pages",
    type=click.IntRange(1, 999),
    help="Act like a broken machine: hang up in the middle of the page after N pages.",
)
@click.option(
    "--inbound",
    is_flag=True,
    help="Store faxes in the gateway's inboxes (routing, block lists, mail, API), as "
    "`faxout serve` with transmit.sip.receive does, instead of DATA_DIR/received.",
)
@click.pass_context
def sip_receiver(
    ctx: click.Context,
    listen: tuple[str, int],
    data_dir: Path | None,
    t38: str,
    ident: str,
    register_at: tuple[str, int] | None,
    user: str | None,
    password: str | None,
    hang_up_after_pages: int | None,
    inbound: bool,
) -> None:
    """Answer SIP fax calls (G.711 or T.38) and store what arrives.

    Each fax is written to DATA_DIR/received/<call id>.tif with a .json summary beside it
    (with --inbound: into the gateway's inboxes, after finishing what a killed receiver left),
    and one line is printed per call. Runs until interrupted (Ctrl-C or SIGTERM).
    """
    if register_at and not user:
        raise click.UsageError("--register-at needs --user")
    config = ReceiverConfig(
        data_dir=data_dir_option(ctx, data_dir),
        address=listen[0],
        port=listen[1],
        ident=ident,
        t38=T38Mode(t38),
        hang_up_after_pages=hang_up_after_pages,
        media=MediaConfig(address=listen[0], jitter_depth=_settings(ctx).jitter_frames()),
    )

    def show(fax: ReceivedFax) -> None:
        click.echo(
            f"{fax.call_id}: {fax.pages} page(s) from {fax.caller or 'unknown'} over "
            f"{fax.medium or 'nothing'}, {fax.t30_text}; "
            + (f"inbound fax {fax.inbound_id}" if fax.inbound_id else fax.path or "nothing stored")
        )

    store = None
    if inbound:
        root = ctx.find_root().obj
        if root is None or not hasattr(root, "ready_gateway"):  # pragma: no cover
            raise click.UsageError("run it as `faxout sip-receiver --inbound`")
        try:
            store = root.ready_gateway().inbound_store("sip")
            for fax in store.recover():
                click.echo(f"recovered fax {fax.id}: {fax.pages} page(s), {fax.state}", err=True)
        except FaxoutError as exc:
            raise click.ClickException(str(exc)) from exc
    try:
        receiver = SipReceiver(config, on_received=show, store=store)
    except FaxoutError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if register_at and user:
            creds = Credentials(user, password) if password else None
            try:
                receiver.register(register_at, user, creds)
            except RuntimeError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"registered as {user} at {register_at[0]}:{register_at[1]}", err=True)
        click.echo(
            f"receiving faxes on sip:{config.address}:{receiver.port} into "
            f"{'the inboxes' if store else receiver.inbox}",
            err=True,
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        receiver.close()


@click.command("sip-send")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "number", required=True, help="Number (SIP user part) to call.")
@click.option("--proxy", help="host[:port] to send the INVITE to (default: transmit.sip.proxy).")
@click.option("--user", help="Digest user name (default: transmit.sip.username).")
@click.option("--password", envvar="FAXOUT_SIP_PASSWORD", help="Digest password (env ok).")
@click.option("--t38", type=click.Choice([m.value for m in T38Mode]), help="T.38 behaviour.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def sip_send(
    ctx: click.Context,
    file: Path,
    number: str,
    proxy: str | None,
    user: str | None,
    password: str | None,
    t38: str | None,
    as_json: bool,
) -> None:
    """Send FILE (a fax TIFF) to NUMBER over SIP, using transmit.sip from the settings.

    Exits 0 only when every page was confirmed.
    """
    from faxout.transmit.sip.transport import SipTransport

    base = _settings(ctx)
    changes: dict[str, Any] = {}
    if proxy:
        changes["proxy"] = proxy
    if user:
        changes["username"] = user
    if password:
        changes["password"] = SecretStr(password)
    if t38:
        changes["t38"] = T38Mode(t38)
    try:
        config = SipConfig.model_validate({**base.model_dump(), **changes})
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    call = FaxCall(file.resolve(), number, f"sip-{uuid.uuid4().hex[:12]}", ident="faxout")

    try:
        result = SipTransport(config).send(call, show_progress)
    except FaxoutError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else summary(result))
    sys.exit(0 if result.success else 1)
