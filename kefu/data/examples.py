"""The record the data layer passes around: a labelled example (problems are :class:`kefu.problems.Problem`)."""

from dataclasses import dataclass

from kefu.entities.spans import Entity


@dataclass(frozen=True)
class Example:
    """One labelled utterance, remembering where it came from so messages can point back at it."""

    text: str
    label: str
    source: str = "<memory>"
    line: int | None = None
    entities: tuple[Entity, ...] = ()  # annotated spans in `text`, for the entity head
