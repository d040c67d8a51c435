"""``faxout check``: is this installation able to take and send faxes? Says what is missing."""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from dataclasses import dataclass

from sqlalchemy import text

from faxout.db import migrate
from faxout.db.engine import shown_url, without_password
from faxout.errors import FaxoutError
from faxout.ops.gateway import Gateway


@dataclass(frozen=True)
class Finding:
    """One verified item."""

    what: str
    ok: bool
    detail: str


def _database(gw: Gateway) -> Finding:
    try:
        with gw.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = migrate.current_revision(gw.engine), migrate.head_revision()
    except Exception as exc:
        shown = shown_url(gw.settings.db_url)
        return Finding(
            "database", False, f"{shown}: {without_password(str(exc), gw.settings.db_url)}"
        )
    if current != head:
        return Finding(
            "database",
            False,
            f"schema at {current or 'nothing'}, needs {head}: run `faxout migrate`",
        )
    return Finding("database", True, f"{shown_url(gw.settings.db_url)} (schema {head})")


def _storage(gw: Gateway) -> Finding:
    try:
        gw.store.check()
    except FaxoutError as exc:
        return Finding("document store", False, str(exc))
    return Finding("document store", True, str(gw.settings.store_dir))


def _library(soname: str, package: str, purpose: str) -> Finding:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return Finding(soname, False, f"missing ({purpose}): apt-get install {package}")
    return Finding(soname, True, purpose)


def _program(name: str, package: str, purpose: str) -> Finding:
    found = shutil.which(name)
    if not found:
        return Finding(name, False, f"missing ({purpose}): apt-get install {package}")
    return Finding(name, True, f"{found} ({purpose})")


def _transport(gw: Gateway) -> Finding:
    t = gw.settings.transmit
    if t.transport == "hylafax":
        from faxout.transmit.hylafax import check_hylafax

        cfg = t.hylafax
        problem = check_hylafax(cfg)
        where = f"hylafax at {cfg.host}:{cfg.port}, {t.line_count()} lines"
        return Finding("transport", problem is None, f"{where}: {problem or 'login works'}")
    if t.transport == "sip":
        from faxout.transmit.sip.check import check_sip

        problem, said = check_sip(t.sip)
        where = f"sip via {t.sip.proxy}, {t.line_count()} lines"
        return Finding("transport", problem is None, f"{where}: {problem or said}")
    return Finding("transport", True, f"simline (simulated line, {t.lines} lines)")


def _covers(gw: Gateway) -> Finding:
    from faxout.errors import RenderError
    from faxout.render.cover import CoverSheet, cover_html

    where = gw.settings.coverpages_path
    own = sorted(p.stem for p in where.glob("*.html")) if where.is_dir() else []
    sample = CoverSheet(sender_name="A", recipient_name="B", pages=2, text="check")
    broken = []
    for name in own:
        try:
            cover_html(sample, name, where)
        except RenderError as exc:
            broken.append(str(exc))
    if broken:
        return Finding(
            "cover pages",
            False,
            "; ".join(broken) + " (faxes that ask for it get the Default cover page)",
        )
    return Finding(
        "cover pages", True, f"{len(own)} installed in {where}, besides the shipped ones"
    )


def _sandbox(gw: Gateway) -> Finding:
    from faxout.sandbox import cgroup, jail

    jail.set_enabled(gw.settings.render.sandbox)
    if not gw.settings.render.sandbox:
        return Finding("converter jail", True, "off (render.sandbox = false): NOT confined")
    problem = jail.problem()
    if problem is not None:
        return Finding("converter jail", False, problem)
    who = f"uid {jail.NOBODY}" if os.geteuid() == 0 else "this uid, in a user namespace"
    memory = "memory cgroup per jail" if cgroup.available() else "rlimits only (no cgroup)"
    return Finding("converter jail", True, f"bubblewrap, {who}, no network, {memory}")


def run_checks(gw: Gateway) -> list[Finding]:
    """Every check, in the order they are shown."""
    python_ok = sys.version_info[:2] == (3, 11)
    return [
        _transport(gw),
        Finding("python", python_ok, sys.version.split()[0]),
        _database(gw),
        _storage(gw),
        _library("libspandsp.so.2", "libspandsp2", "fax engine"),
        _library("libtiff.so.6", "libtiff6", "fax pages"),
        _program("gs", "ghostscript", "PostScript and difficult PDFs"),
        _program("soffice", "libreoffice-core", "office documents"),
        _sandbox(gw),
        _covers(gw),
    ]
