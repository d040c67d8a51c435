"""What the virtual fax machine at a dialled number does, like a carrier's test numbers.

By default only the reserved block ``+1 555 777 xxxx`` carries behaviours; every other number
answers normally. The table is configurable: exact numbers, or prefixes written with a trailing
``*`` (the longest matching prefix wins; an exact number beats any prefix), mapped to behaviour
specs such as ``busy`` or ``reject-after:2``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from faxout.errors import ConfigError


class Kind(enum.StrEnum):
    """The behaviours a virtual far end can have."""

    ANSWER = "answer"  # a fax machine that takes everything
    BUSY = "busy"  # the line is busy: nobody answers, no fax engine runs
    NO_ANSWER = "no-answer"  # it rings until the caller gives up
    VOICE = "voice"  # a person answers ("hello? hello?") then hangs up
    REJECT_AFTER = "reject-after"  # takes N pages then refuses the rest (N=0: refuses the call)
    NOISY = "noisy"  # a noisy line to a V.29 machine: ECM repairs, non-ECM pages arrive damaged
    SLOW_MODEM = "slow-modem"  # only V.27ter (4800/2400 bit/s)
    NO_ECM = "no-ecm"  # no error correction mode (so no T.6 either)


@dataclass(frozen=True)
class Behaviour:
    """One far-end behaviour; ``pages`` is N for ``reject-after``."""

    kind: Kind
    pages: int = 0

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.pages}" if self.kind is Kind.REJECT_AFTER else self.kind


ANSWER = Behaviour(Kind.ANSWER)


def parse_behaviour(spec: str) -> Behaviour:
    """Parse ``busy``, ``no-answer``, ``reject-after:2`` … into a ``Behaviour``."""
    name, _, arg = spec.strip().lower().replace("_", "-").partition(":")
    try:
        kind = Kind(name)
    except ValueError:
        known = ", ".join(k.value for k in Kind)
        raise ConfigError(f"unknown far-end behaviour {spec!r} (known: {known})") from None
    if kind is Kind.REJECT_AFTER:
        if not arg.isdigit():
            raise ConfigError(f"reject-after needs a page count, e.g. reject-after:2, not {spec!r}")
        return Behaviour(kind, int(arg))
    if arg:
        raise ConfigError(f"behaviour {name!r} takes no argument: {spec!r}")
    return Behaviour(kind)


def normalise_number(number: str) -> str:
    """Digits only, keeping a leading ``+``: ``+1 (555) 777-0001`` → ``+15557770001``."""
    stripped = number.strip()
    digits = re.sub(r"\D", "", stripped)
    return ("+" if stripped.startswith("+") else "") + digits


DEFAULT_TABLE: dict[str, str] = {
    "+15557770001": "busy",
    "+15557770002": "no-answer",
    "+15557770003": "voice",
    "+15557770004": "noisy",
    "+15557770005": "slow-modem",
    "+15557770006": "no-ecm",
    **{f"+155577700{10 + n}": f"reject-after:{n}" for n in range(10)},
}


class BehaviourTable:
    """Maps dialled numbers to behaviours. Keys are exact numbers or prefixes ending in ``*``;
    an exact entry wins, then the longest prefix. Numbers that match nothing answer normally."""

    def __init__(self, entries: Mapping[str, str | Behaviour] | None = None) -> None:
        source = DEFAULT_TABLE if entries is None else entries
        self._exact: dict[str, Behaviour] = {}
        self._prefixes: dict[str, Behaviour] = {}
        for number, spec in source.items():
            key = normalise_number(number)
            if not key.strip("+"):
                raise ConfigError(f"behaviour table entry without digits: {number!r}")
            behaviour = spec if isinstance(spec, Behaviour) else parse_behaviour(spec)
            target = self._prefixes if number.strip().endswith("*") else self._exact
            target[key] = behaviour

    def lookup(self, number: str) -> Behaviour:
        """The behaviour of the machine at ``number``."""
        key = normalise_number(number)
        if key in self._exact:
            return self._exact[key]
        for end in range(len(key), 0, -1):
            found = self._prefixes.get(key[:end])
            if found is not None:
                return found
        return ANSWER

    def describe(self) -> list[tuple[str, str]]:
        """``(number or prefix*, behaviour)`` rows, sorted, for help texts."""
        rows = [(n, str(b)) for n, b in self._exact.items()]
        rows += [(f"{n}*", str(b)) for n, b in self._prefixes.items()]
        return sorted(rows)
