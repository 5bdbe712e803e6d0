"""Payment card numbers: 13-19 digits, written whole or in groups, with a valid Luhn check digit and an
issuer prefix of a card network.

The prefix check is what keeps long order numbers out: an order number passes Luhn one time in ten, but
``2024...`` and ``9...`` start no card. Groups are 3-6 digits split by one space or dash
(``6222 0212 3456 7890 123``, ``3782-822463-10005``). The longest group-aligned part of a longer run that
passes is taken, so a security code or quantity written after the card number does not hide it; the price
is that a mistyped 19-digit number whose first 16 digits happen to pass (one in ten) is masked too, which
errs on the safe side. So is an order number that passes both checks (one in ten of a shop whose order
numbers start like a card's), unless the shop's own order pattern keeps it (:class:`kefu.privacy.Redactor`).
"""

import re
from datetime import date, datetime

from kefu.entities.spans import Entity

_GROUPED_DIGITS = re.compile(r"(?<![A-Za-z0-9])[0-9]{3,19}(?:[ -][0-9]{3,6})*(?![A-Za-z0-9])")
_GROUP = re.compile(r"[0-9]+")

_ANY = range(16, 20)
# (lowest prefix, highest prefix, lengths): Visa, Mastercard, Amex, UnionPay, Discover, JCB, Diners
_ISSUERS = (
    ("4", "4", (13, 16, 19)),
    ("51", "55", (16,)),
    ("2221", "2720", (16,)),
    ("34", "34", (15,)),
    ("37", "37", (15,)),
    ("62", "62", _ANY),
    ("6011", "6011", _ANY),
    ("644", "649", _ANY),
    ("65", "65", _ANY),
    ("3528", "3589", _ANY),
    ("300", "305", range(14, 20)),
    ("36", "36", range(14, 20)),
    ("38", "39", _ANY),
)


def luhn_valid(digits: str) -> bool:
    """Whether the last digit of ``digits`` is the Luhn check digit of the others."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def issued(digits: str) -> bool:
    """Whether a card network issues numbers of this prefix and length."""
    return any(low <= digits[: len(low)] <= high and len(digits) in lengths for low, high, lengths in _ISSUERS)


def _card_in(groups: list[re.Match]) -> tuple[int, int] | None:
    """The longest run of consecutive digit groups that is a card number, as (start, end)."""
    runs = []
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += groups[last].group()
            if len(digits) > 19:
                break
            if len(digits) >= 13:
                runs.append((groups[first].start(), groups[last].end(), digits))
    for start, end, digits in sorted(runs, key=lambda run: run[0] - run[1]):
        if issued(digits) and luhn_valid(digits):
            return start, end
    return None


class CardRule:
    """Finds card numbers for :class:`kefu.entities.RuleExtractor`; beaten only by an ID number on a tie."""

    name = "card"
    priority = 2

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        found = []
        for match in _GROUPED_DIGITS.finditer(text):
            groups = list(_GROUP.finditer(text, match.start(), match.end()))
            span = _card_in(groups)
            if span is not None:
                found.append(Entity("card", text[span[0] : span[1]], *span, source="rule:card"))
        return found
