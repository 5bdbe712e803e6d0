"""The redactor: every kind of personal data found in one pass, each replaced by its placeholder."""

from collections.abc import Iterable, Mapping

from kefu.entities import BuiltinRule, RuleExtractor
from kefu.entities.rules import non_overlapping
from kefu.privacy.cards import CardRule
from kefu.privacy.id_numbers import IdNumberRule
from kefu.privacy.ip_addresses import IpRule
from kefu.privacy.phones import PhoneRule
from kefu.privacy.spans import Span


class Redactor:
    """Finds e-mail addresses, phone numbers, resident ID numbers, card numbers, IP addresses and the
    configured ``patterns`` (name -> regular expression), and masks them.

    Overlaps are resolved as the entity rules resolve them (:class:`kefu.entities.RuleExtractor`): the
    longest span wins, so an ID number is not also a phone number and ``13812345678@163.com`` is one
    e-mail; on an equal span a configured pattern wins, then ID number, card, IP, e-mail and phone.
    Configured patterns, like entity regexes, must not be glued to ASCII letters or digits. An invalid
    pattern or phone region raises :class:`kefu.errors.ConfigError`.

    What the customer calls a number does not matter: ``订单13812345678`` is a phone number, because a
    valid mobile, card or ID number after an order word is still one. The only numbers kept are those a
    ``keep`` pattern (the shop's own order ids: kefu.yml ``entities.regexes``, type -> pattern or list of
    patterns) matches in full, around the whole span.
    """

    def __init__(
        self,
        patterns: Mapping[str, str] | None = None,
        regions: Iterable[str] = ("CN", "US"),
        keep: Mapping[str, str | list[str]] | None = None,
    ) -> None:
        rules = [IdNumberRule(), CardRule(), IpRule(), BuiltinRule("email"), PhoneRule(regions)]
        self._extractor = RuleExtractor(rules, dict(patterns or {}))
        self._keep = RuleExtractor([], dict(keep or {}))
        # the kinds of personal data masked: the built-in rules' and the configured patterns' names
        self.kinds = frozenset(rule.name for rule in rules) | frozenset(patterns or {})

    def find(self, text: str) -> list[Span]:
        """The personal data in ``text``, non-overlapping, in order."""
        kept = [(entity.start, entity.end) for entity, _ in self._keep.candidates(text)]
        # before overlaps are resolved: a kept order id does not let a shorter find inside it win instead
        candidates = [
            (entity, priority) for entity, priority in self._extractor.candidates(text)
            if not any(start <= entity.start and entity.end <= end for start, end in kept)
        ]
        return [Span(entity.type, entity.start, entity.end) for entity in non_overlapping(candidates)]

    def redact(self, text: str) -> str:
        """``text`` with each span :meth:`find` returns replaced by its placeholder (``[PHONE]``)."""
        pieces, done = [], 0
        for span in self.find(text):
            pieces += [text[done : span.start], span.placeholder]
            done = span.end
        return "".join(pieces) + text[done:]
