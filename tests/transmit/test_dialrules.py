"""Dial rules: what each line dials for an E.164 number, and which fictional numbers it reaches."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from faxout.transmit.dialrules import DialRules, dial_string


@pytest.mark.parametrize(
    ("rules", "number", "dialled"),
    [
        # simline and SIP: E.164 as stored.
        (DialRules(), "+16505551234", "+16505551234"),
        (DialRules(), "+4930123456", "+4930123456"),
        # A line in NANP: 1 + area code domestically, 011 abroad.
        (DialRules(country="US"), "+16505551234", "16505551234"),
        (DialRules(country="US"), "+14165550100", "14165550100"),
        (DialRules(country="US"), "+4930123456", "0114930123456"),
        # In Germany: 0 + area code, 00 abroad; in Australia 0011 abroad.
        (DialRules(country="DE"), "+4930123456", "030123456"),
        (DialRules(country="DE"), "+16505551234", "0016505551234"),
        (DialRules(country="AU"), "+442079460000", "0011442079460000"),
        # Italian numbers keep their leading 0.
        (DialRules(country="IT"), "+390612345678", "0612345678"),
        # An outside line, a local area, the prefixes set by hand.
        (DialRules(country="US", outside_line="9", area_code="650"), "+16505551234", "95551234"),
        (
            DialRules(country="US", outside_line="9", area_code="650"),
            "+12125550100",
            "912125550100",
        ),
        (
            DialRules(country="DE", international_prefix="010", national_prefix="0"),
            "+4930123456",
            "030123456",
        ),
        (DialRules(country="DE", international_prefix="01033"), "+4420794600", "010334420794600"),
        # A job stored before numbers were E.164 is dialled as it is.
        (DialRules(country="US", outside_line="9"), "5551001", "5551001"),
    ],
)
def test_dial_strings(rules: DialRules, number: str, dialled: str) -> None:
    assert dial_string(number, rules) == dialled


def test_each_transport_reaches_its_own_numbers() -> None:
    assert DialRules().reachable_for("simline") == ("+1555",)
    assert DialRules().reachable_for("sip") == DialRules().reachable_for("hylafax") == ()
    lab = DialRules(reachable=["+1 555 777"])
    assert lab.reachable_for("sip") == ("+1555777",)
    with pytest.raises(ValidationError):
        DialRules(reachable=["1555"])
    with pytest.raises(ValidationError):
        DialRules(outside_line="9;reboot")
