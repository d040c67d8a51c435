"""UNO side of the warm LibreOffice converter; runs under the interpreter that has ``uno``.

Started by :mod:`faxout.render.office_warm` inside LibreOffice's own jail as
``python3 office_bridge.py TIMEOUT SOFFICE PRISTINE PROFILE FLAG...``: copies the pristine profile
to PROFILE (in the jail's private ``/tmp``, so every start begins from the locked-down copy),
starts soffice listening on a private named pipe, connects to it, then answers one JSON line
per request on stdin (``{"src": ..., "out": ...}``) with one JSON line on stdout
(``{"ok": true}`` or ``{"error": ...}``). When the bridge ends, the jail ends, and soffice
with it. Only the standard library and ``uno`` are imported, so Debian's ``python3-uno``
suffices; this module is never imported by faxout itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any

import uno  # type: ignore[import-not-found]  # only in the LibreOffice-side interpreter

_EXPORT = (
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
)
_NEVER_RUN_MACROS = 0  # com.sun.star.document.MacroExecMode.NEVER_EXECUTE
_NEVER_UPDATE_LINKS = 0  # com.sun.star.document.UpdateDocMode.NO_UPDATE
_E_RESTART = 81  # soffice.bin's "start me again" exit status (a new profile asks for it)


def _props(**values: Any) -> tuple[Any, ...]:
    props = []
    for name, value in values.items():
        prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        prop.Name, prop.Value = name, value
        props.append(prop)
    return tuple(props)


def _launch(soffice: str, profile: str, pipe: str, flags: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            *flags,  # faxout's (office_warm.SOFFICE_FLAGS)
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # What the soffice wrapper script would set before starting soffice.bin.
        env={**os.environ, "SAL_ENABLE_FILE_LOCKING": "1"},
    )


def _connect(pipe: str, deadline: float, office: subprocess.Popen[bytes], relaunch: Any) -> Any:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local
    )
    while True:
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except Exception:  # NoConnectException until soffice listens
            if time.monotonic() > deadline:
                raise
            code = office.poll()
            if code == _E_RESTART:
                office = relaunch()  # oosplash's job: start it again on the same pipe
            elif code is not None:
                raise
            time.sleep(0.1)


def _convert(desktop: Any, src: str, out: str) -> None:
    load = _props(
        Hidden=True,
        ReadOnly=True,
        MacroExecutionMode=_NEVER_RUN_MACROS,
        UpdateDocMode=_NEVER_UPDATE_LINKS,
    )
    document = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, load)
    if document is None:
        raise RuntimeError("LibreOffice cannot open the file")
    try:
        export = next((f for s, f in _EXPORT if document.supportsService(s)), "writer_pdf_Export")
        document.storeToURL(uno.systemPathToFileUrl(out), _props(FilterName=export))
    finally:
        document.close(True)


def main() -> None:
    timeout, soffice, pristine, profile, *flags = sys.argv[1:]
    shutil.copytree(pristine, profile)
    pipe = f"faxout-{uuid.uuid4().hex}"
    launched = [_launch(soffice, profile, pipe, flags)]

    def relaunch() -> subprocess.Popen[bytes]:
        launched.append(_launch(soffice, profile, pipe, flags))
        return launched[-1]

    deadline = time.monotonic() + float(timeout)
    desktop = _connect(pipe, deadline, launched[0], relaunch)
    office = launched[-1]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if office.poll() is not None:  # soffice is gone: end, so the jail starts afresh
            print(json.dumps({"lost": True}), flush=True)
            return
        try:
            _convert(desktop, request["src"], request["out"])
            answer: dict[str, Any] = {"ok": True}
        except Exception as exc:  # every failure is reported, the bridge keeps serving
            answer = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            if office.poll() is not None or "Disposed" in type(exc).__name__:
                answer["lost"] = True
        print(json.dumps(answer), flush=True)
        if answer.get("lost"):
            return


if __name__ == "__main__":
    main()
