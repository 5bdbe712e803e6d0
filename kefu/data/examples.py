"""The two records the data layer passes around: a labelled example and a problem found in the data."""

from dataclasses import dataclass
from typing import Literal

from kefu.entities.spans import Entity


@dataclass(frozen=True)
class Example:
    """One labelled utterance, remembering where it came from so messages can point back at it."""

    text: str
    label: str
    source: str = "<memory>"
    line: int | None = None
    entities: tuple[Entity, ...] = ()  # annotated spans in `text`, for the entity head


@dataclass(frozen=True)
class Issue:
    """A problem found while validating examples.

    ``skipped_index`` is the position, in the list given to :func:`kefu.data.validate`, of the example
    this issue causes to be dropped; :func:`kefu.data.clean` uses it because examples built in memory
    have no line numbers to match on.
    """

    level: Literal["error", "warning"]
    message: str
    source: str
    line: int | None = None
    skipped_index: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.source}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"
