"""Phone numbers: the entity rules' phone extractor (``phonenumbers`` for the configured regions, plus
mainland mobile numbers with or without +86/86), with one more refusal that matters for redaction: a
number that runs on into a clock time is a timestamp (``phonenumbers`` reads ``2023.11.08 14`` of
``2023.11.08 14:30`` as a phone number).

A label does not make a valid number something else: ``订单13812345678`` is a phone number (only the shop's
own order pattern keeps one, see :class:`kefu.privacy.Redactor`).
"""

import re
from collections.abc import Iterable
from datetime import date, datetime

from kefu.entities import BuiltinRule
from kefu.entities.spans import Entity

_CLOCK_AFTER = re.compile(r":[0-9]")


class PhoneRule:
    """Finds phone numbers for :class:`kefu.entities.RuleExtractor`; anything else on the same span wins."""

    name = "phone"
    priority = 20

    def __init__(self, regions: Iterable[str] = ("CN", "US")) -> None:
        self._phones = BuiltinRule("phone", tuple(regions))  # also checks the region codes

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        return [phone for phone in self._phones.extract(text) if not _CLOCK_AFTER.match(text, phone.end)]
