"""The one record of a problem found in a file: data, settings, domain, stories or knowledge.

Checkers return lists of :class:`Problem` rather than raising at the first, so that ``kefu validate``
can list them all; a warning does not stop the bot from working.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something wrong at ``source:line`` (``line`` None: the file as a whole).

    ``skipped_index`` is set by data validation: the position, in the list of examples it was given, of
    the example this problem causes to be dropped (examples built in memory have no lines to match on).
    A ``source`` of ``""`` means the message names its place itself (it came as an error's text).
    """

    source: str
    line: int | None
    message: str
    severity: Severity = "error"
    skipped_index: int | None = None

    @classmethod
    def from_error(cls, error: Exception) -> "Problem":
        """The problem a :class:`~kefu.errors.KefuError` describes: its message starts with file and line."""
        return cls("", None, str(error))

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"

    def located(self) -> str:
        """``source:LINE: message``, without the severity: for a caller that shows it its own way."""
        return self._at(self.message)

    def __str__(self) -> str:
        """``source:LINE: message``, or ``source:LINE: warning: message``."""
        return self._at(f"warning: {self.message}" if self.is_warning else self.message)

    def _at(self, text: str) -> str:
        if not self.source:
            return text
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"{where}: {text}"


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that are not warnings."""
    return [problem for problem in problems if not problem.is_warning]


def first_of(problems: list[Problem]) -> str:
    """The first problem, and how many more there are: the message of the error that stops at it."""
    more = len(problems) - 1
    return str(problems[0]) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else "")
