"""Mainland China resident ID numbers (GB 11643-1999): 18 characters, validated three ways.

Six digits of address code (the first two a province), eight of birth date, three of sequence and a check
character from ISO 7064 MOD 11-2 (``0``-``9`` or ``X``). A candidate must have a province that exists, a
birth date between 1900 and today, and the right check character, so an 18-digit order number
(``202403121234567890``: no province 20) is left alone. Written whole or split 6-8-4 by spaces or dashes.
"""

import re
from datetime import date, datetime

from kefu.entities.spans import Entity

_CANDIDATE = re.compile(r"(?<![A-Za-z0-9])[0-9]{6}([ -]?)[0-9]{8}\1[0-9]{3}[0-9Xx](?![A-Za-z0-9])")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS = "10X98765432"
# 11-15 north, 21-23 north-east, 31-37 east, 41-46 central south, 50-54 south-west, 61-65 north-west,
# 71 Taiwan, 81-83 Hong Kong, Macao and Taiwan residence permits, 91 foreigners' permanent residence
_PROVINCES = frozenset(
    [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66),
     71, 81, 82, 83, 91]
)


def check_character(first17: str) -> str:
    """The check character of the first 17 digits of an ID number."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def _birth_date_plausible(digits: str, today: date) -> bool:
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= today


def valid_id_number(number: str, today: date | None = None) -> bool:
    """Whether ``number`` (18 characters, no separators) is a well-formed resident ID number."""
    number = number.upper()
    return (
        len(number) == 18
        and number[:17].isdigit()
        and int(number[:2]) in _PROVINCES
        and _birth_date_plausible(number, today or date.today())
        and check_character(number[:17]) == number[17]
    )


class IdNumberRule:
    """Finds resident ID numbers for :class:`kefu.entities.RuleExtractor`; wins every tie."""

    name = "id_number"
    priority = 1

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        return [
            Entity("id_number", match.group(), match.start(), match.end(), source="rule:id_number")
            for match in _CANDIDATE.finditer(text)
            if valid_id_number(re.sub(r"[ -]", "", match.group()))
        ]
