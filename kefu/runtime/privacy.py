"""The privacy hook every customer message passes through before it is stored, logged or classified.

:func:`redact` masks personal data with the default :class:`kefu.privacy.Redactor` (e-mail, phone, ID and
card numbers, IP addresses); a bot uses :func:`project_redaction`, which follows the project's ``privacy:``
settings in ``kefu.yml`` (more patterns, other phone regions, or no redaction at all).
"""

from collections.abc import Callable
from functools import cache

from kefu.privacy import Redactor
from kefu.project.settings import PrivacySettings


@cache
def _default_redactor() -> Redactor:
    return Redactor()


def redact(text: str) -> str:
    """``text`` with personal data replaced by placeholders (``[PHONE]``, ``[EMAIL]``, ...)."""
    return _default_redactor().redact(text)


def _unchanged(text: str) -> str:
    return text


def project_redaction(settings: PrivacySettings) -> Callable[[str], str]:
    """What a project masks in customer text: its ``privacy:`` section as a text-to-text function."""
    if not settings.redact:
        return _unchanged
    return Redactor(settings.patterns, settings.phone_regions).redact
