"""The LibreOffice profile every faxout soffice runs with: no fetching, no macros.

A client's office file can link an image by URL (``http://169.254.169.254/...`` or
``file:///etc/...``); LibreOffice fetches linked images while exporting, which makes the
server fetch on the sender's behalf (SSRF) or print a local file into the fax. Setting
``BlockUntrustedRefererLinks`` makes LibreOffice refuse every link from a document outside
the (empty) trusted locations, macros are disabled outright and spreadsheet formulas are
not recalculated on load. The settings are written
into the profile's user layer before soffice first starts, so both the warm instance and
the cold ``--convert-to`` path get them.
"""

from __future__ import annotations

from pathlib import Path

_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
{items}
</oor:items>
"""
_SCRIPTING = "/org.openoffice.Office.Common/Security/Scripting"
_CALC_LOAD = "/org.openoffice.Office.Calc/Formula/Load"
_VALUES = (
    (_SCRIPTING, "BlockUntrustedRefererLinks", "true"),
    (_SCRIPTING, "DisableMacrosExecution", "true"),
    (_SCRIPTING, "MacroSecurityLevel", "3"),  # "very high": only trusted locations, none
    # Never recalculate spreadsheets on load (already LibreOffice's default): a formula such
    # as WEBSERVICE("http://...") must print its saved value, not run.
    (_CALC_LOAD, "OOXMLRecalcMode", "1"),
    (_CALC_LOAD, "ODFRecalcMode", "1"),
)


def prepare_profile(profile: Path, *, readable: bool = False) -> Path:
    """Create ``profile`` with the locked-down settings (kept if already there).

    ``readable``: for the pristine copy that jailed soffice processes start from (they run
    as another uid and only read it).
    """
    settings = profile / "user" / "registrymodifications.xcu"
    if not settings.exists():
        settings.parent.mkdir(mode=0o755 if readable else 0o700, parents=True, exist_ok=True)
        items = "\n".join(
            f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse">'
            f"<value>{value}</value></prop></item>"
            for path, name, value in _VALUES
        )
        settings.write_text(_SETTINGS.format(items=items), encoding="utf-8")
        if readable:
            settings.parent.chmod(0o755)
            settings.chmod(0o644)
    return profile
