"""What the redactor finds: a typed span of personal data and the placeholder that replaces it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    """Personal data at ``text[start:end]`` (``end`` exclusive) of kind ``type``.

    ``type`` is ``email``, ``phone``, ``id_number``, ``card``, ``ip`` or the name of a configured pattern.
    """

    type: str
    start: int
    end: int

    @property
    def placeholder(self) -> str:
        """What the span becomes in redacted text: ``[PHONE]``, ``[ID_NUMBER]``, ``[MEMBER_NO]``."""
        return placeholder(self.type)


def placeholder(kind: str) -> str:
    """What personal data of kind ``kind`` becomes: ``[PHONE]`` for ``phone``."""
    return f"[{kind.upper()}]"
