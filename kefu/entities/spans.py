"""The one entity value type shared by annotations, rule extractors, models and metrics."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Entity:
    """One entity found in (or annotated on) a text.

    ``start`` and ``end`` are character offsets into the original text, ``end`` exclusive, so
    ``text[start:end]`` is the surface form. ``value`` is the normalised value: the surface form itself
    for plain annotations and regex rules, a canonical form where one is known (a Rasa synonym, an E.164
    phone number, an ISO date, ``"100 CNY"``). ``source`` says who produced it: ``"model"``,
    ``"rule:<name>"`` or ``"annotation"``.
    """

    type: str
    value: str
    start: int
    end: int
    source: str = "model"

    def __post_init__(self) -> None:
        # offsets are compared and sliced everywhere; a bad one is a bug where the entity was made
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid entity span [{self.start}, {self.end}) for type {self.type!r}")

    def to_dict(self) -> dict:
        """A JSON-ready dict with the fields as keys."""
        return asdict(self)
