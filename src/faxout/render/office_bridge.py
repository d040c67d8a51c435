"""UNO side of the warm LibreOffice converter; runs under the interpreter that has ``uno``.

Started by :mod:`faxout.render.office_warm` as ``python3 office_bridge.py PIPE``: connects to
the soffice listening on the named pipe, then answers one JSON line per request on stdin
(``{"src": ..., "out": ...}``) with one JSON line on stdout (``{"ok": true}`` or
``{"error": ...}``). Only the standard library and ``uno`` are imported, so Debian's
``python3-uno`` suffices; this module is never imported by faxout itself.
"""

from __future__ import annotations

import json
import sys
import time
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


def _props(**values: Any) -> tuple[Any, ...]:
    props = []
    for name, value in values.items():
        prop = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
        prop.Name, prop.Value = name, value
        props.append(prop)
    return tuple(props)


def _connect(pipe: str, deadline: float) -> Any:
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
    desktop = _connect(sys.argv[1], time.monotonic() + float(sys.argv[2]))
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _convert(desktop, request["src"], request["out"])
            answer: dict[str, Any] = {"ok": True}
        except Exception as exc:  # every failure is reported, the bridge keeps serving
            answer = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
