"""What the bot remembers about one conversation between turns.

The state is stored in the database after every turn (as ``to_dict()``, plain JSON) so that any server
worker can serve the next message; nothing about a conversation lives in process memory.
"""

import copy
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from kefu.errors import DataError

SlotValue = str | int | float | bool | None


@dataclass
class ConversationState:
    """Memory of one conversation.

    ``fallback_count`` counts consecutive turns the bot could not answer; ``pending_clarify`` holds
    the intents offered as buttons on the previous turn; ``handed_off`` means the conversation waits for
    (or is with) a human agent, since ``waiting_since`` (seconds since the epoch, the clock given to
    :func:`~kefu.dialogue.decide`); ``negative_turns`` counts consecutive negative messages.
    """

    language: str | None = None
    slots: dict[str, SlotValue] = field(default_factory=dict)
    active_form: str | None = None
    form_intent: str | None = None  # the intent whose reply is given once the form is complete
    requested_slot: str | None = None
    fallback_count: int = 0
    last_intent: str | None = None
    pending_clarify: list[str] = field(default_factory=list)
    handed_off: bool = False
    waiting_since: float | None = None
    handoff_trigger: str | None = None  # why the bot handed off (Decision.trigger)
    negative_turns: int = 0
    recent_slots: list[str] = field(default_factory=list)  # filled by the previous message

    VERSION: ClassVar[int] = 1

    def copy(self) -> "ConversationState":
        """An independent copy (the policy never changes the state it was given)."""
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``from_dict(state.to_dict()) == state``."""
        return {"version": self.VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConversationState":
        """Rebuild a state from ``to_dict()`` output.

        Missing fields take their defaults and unknown fields are ignored, so states stored by an older
        or newer kefu still load during an upgrade; a field of the wrong type raises ``DataError``.
        """
        if not isinstance(data, dict):
            raise DataError(f"conversation state must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        for name, value in values.items():
            if not _CHECKS[name](value):
                # no value in the message: slots hold what customers typed, and this message is logged
                raise DataError(f"conversation state field '{name}' is invalid ({_HINTS[name]})")
        return cls(**copy.deepcopy(values))


def without_slot_values(stored: dict[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
    """A stored state (``to_dict()`` output) with only the slots named in ``keep``.

    Slots hold what the customer told the bot (an order id, a phone number a form asked for), needed only
    while the conversation runs; a closed one keeps just the named ones. A damaged ``slots`` field (not a
    mapping) is dropped whole.
    """
    state = dict(stored)
    slots = state.pop("slots", None)
    if isinstance(slots, dict):
        state["slots"] = {name: value for name, value in slots.items() if name in keep}
    return state


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _slot_value(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_CHECKS = {
    "language": _optional_str,
    "slots": lambda v: (
        isinstance(v, dict) and all(isinstance(k, str) and _slot_value(x) for k, x in v.items())
    ),
    "active_form": _optional_str,
    "form_intent": _optional_str,
    "requested_slot": _optional_str,
    "fallback_count": _count,
    "negative_turns": _count,
    "waiting_since": lambda v: v is None or (isinstance(v, int | float) and not isinstance(v, bool)),
    "last_intent": _optional_str,
    "handoff_trigger": _optional_str,
    "pending_clarify": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "recent_slots": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "handed_off": lambda v: isinstance(v, bool),
}
_HINTS = {
    "slots": "an object of name: string, number, boolean or null",
    "fallback_count": "an integer >= 0",
    "negative_turns": "an integer >= 0",
    "waiting_since": "a number or null",
    "pending_clarify": "a list of intent names",
    "recent_slots": "a list of slot names",
    "handed_off": "true or false",
}
_HINTS.update({name: "a string or null" for name in _CHECKS if name not in _HINTS})
