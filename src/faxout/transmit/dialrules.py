"""Dial rules (``transmit.dial``): from the E.164 number faxout keeps to what the line dials.

Like HylaFAX's dialrules. Without a ``country`` the number goes out in E.164 as stored
(``+15550123456``): what SIP trunks expect, what the simulated line answers, and what HylaFAX's
own dialrules take as their canonical form. With a ``country`` the number is dialled the way a
phone there dials it: a number abroad with the international prefix (``011`` in NANP, ``00`` in
most of Europe), a domestic one with the trunk prefix (``1`` in NANP, ``0`` in DE and GB) and no
country code, a local one (``area_code``) with neither; ``outside_line`` (a PBX's ``9``) first.

The line's own fictional numbers (``reachable``) are also set here, because which numbers a line
reaches is the line's business: intake accepts them although the public numbering plan has none.
"""

from __future__ import annotations

import phonenumbers as pn
from pydantic import BaseModel, Field, field_validator

# The simulated line answers every number of NANP's unassigned area code 555 (behaviour.py gives
# some of +1 555 777 xxxx their behaviours): its test numbers, and no real one.
SIMLINE_NETWORK = ("+1555",)
_DIAL_DIGITS = r"^[0-9*#]*$"


class DialRules(BaseModel):
    """How E.164 numbers are dialled on the configured transport's line."""

    country: str = Field(
        "",
        pattern="^([A-Za-z]{2})?$",
        description="the line's country (US, DE…); empty: dial E.164 as stored (+15550123456)",
    )
    international_prefix: str | None = Field(
        None, pattern=_DIAL_DIGITS, description="None: the country's own (011 in NANP, 00 in DE)"
    )
    national_prefix: str | None = Field(
        None, pattern=_DIAL_DIGITS, description="None: the country's own (1 in NANP, 0 in DE)"
    )
    area_code: str = Field(
        "", pattern="^[0-9]*$", description="the line's own area code: dialled without it"
    )
    outside_line: str = Field(
        "", pattern=r"^[0-9*#,]*$", description="dialled before every number (a PBX's 9)"
    )
    reachable: list[str] | None = Field(
        None,
        description="E.164 prefixes of fictional numbers the line reaches (a lab, a PBX); "
        "None: the transport's own (simline: +1555, the others: none)",
    )

    @field_validator("reachable")
    @classmethod
    def _prefixes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = ["+" + "".join(c for c in p if c.isdigit()) for p in value]
        for given, prefix in zip(value, cleaned, strict=True):
            if not given.strip().startswith("+") or len(prefix) < 2:
                raise ValueError(f"{given!r} is not an E.164 prefix like +1555")
        return cleaned

    def reachable_for(self, transport: str) -> tuple[str, ...]:
        """The fictional prefixes a line of ``transport`` reaches."""
        if self.reachable is not None:
            return tuple(self.reachable)
        return SIMLINE_NETWORK if transport == "simline" else ()


def dial_string(number: str, rules: DialRules) -> str:
    """What the line dials for ``number`` (E.164) under ``rules``.

    A number not in E.164 (a job accepted before numbers were kept in E.164) is dialled as it is.
    """
    if not rules.country or not number.startswith("+"):
        return number
    try:
        parsed = pn.parse(number)
    except pn.NumberParseException:
        return number
    country = rules.country.upper()
    nsn = pn.national_significant_number(parsed)
    if parsed.country_code != pn.country_code_for_region(country):
        if rules.international_prefix is not None:
            body = f"{rules.international_prefix}{parsed.country_code}{nsn}"
        else:
            body = pn.format_out_of_country_calling_number(parsed, country)
    elif rules.area_code and nsn.startswith(rules.area_code) and len(nsn) > len(rules.area_code):
        body = nsn[len(rules.area_code) :]
    elif rules.national_prefix is not None:
        body = rules.national_prefix + nsn
    else:
        body = pn.format_out_of_country_calling_number(parsed, country)
    return rules.outside_line + "".join(c for c in body if c.isdigit())
