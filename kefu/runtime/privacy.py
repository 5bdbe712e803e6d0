"""The privacy hook every customer message passes through before it is stored, logged or classified.

:func:`redact` masks personal data with the default :class:`kefu.privacy.Redactor` (e-mail, phone, ID and
card numbers, IP addresses); a bot uses :func:`project_redaction`, which follows the project's ``privacy:``
settings in ``kefu.yml`` (more patterns, other phone regions, or no redaction at all) and keeps the order
ids its ``entities.regexes`` patterns match, and :func:`project_entity_redaction` for the entities recorded
with a message.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from kefu.privacy import Redactor
from kefu.privacy.spans import placeholder
from kefu.project.settings import ProjectSettings


@cache
def _default_redactor() -> Redactor:
    return Redactor()


def redact(text: str) -> str:
    """``text`` with personal data replaced by placeholders (``[PHONE]``, ``[EMAIL]``, ...)."""
    return _default_redactor().redact(text)


def _unchanged(value: Any) -> Any:
    return value


def project_redactor(settings: ProjectSettings) -> Redactor:
    """The redactor of ``privacy:``, keeping what the project's own ``entities.regexes`` match in full
    (an order id in the shop's format is not personal data, even when it looks like a phone number)."""
    privacy = settings.privacy
    return Redactor(privacy.patterns, privacy.phone_regions, keep=settings.entities.regexes)


def project_redaction(settings: ProjectSettings) -> Callable[[str], str]:
    """What a project masks in customer text: its ``privacy:`` section as a text-to-text function."""
    if not settings.privacy.redact:
        return _unchanged
    return project_redactor(settings).redact


def project_entity_redaction(settings: ProjectSettings) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What a project stores of an entity found in a customer message (an ``Entity.to_dict()``).

    The model only sees redacted text, so an entity value is personal data only when a rule found some
    that the redaction missed; it must not reach the database either. An entity of a masked kind
    (``phone``, ``email``, a ``privacy.patterns`` name ...) gets the placeholder as its value, and any other
    value is redacted like the text.
    """
    if not settings.privacy.redact:
        return _unchanged
    redactor = project_redactor(settings)

    def masked(entity: dict[str, Any]) -> dict[str, Any]:
        kind = entity["type"]
        value = placeholder(kind) if kind in redactor.kinds else redactor.redact(str(entity["value"]))
        return {**entity, "value": value}

    return masked
