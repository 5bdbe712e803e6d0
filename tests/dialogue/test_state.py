import json

import pytest

from kefu.dialogue import ConversationState
from kefu.errors import DataError


def test_round_trip_through_json():
    state = ConversationState(
        language="zh",
        slots={"order_id": "A12345", "amount": 12.5, "express": True, "note": None},
        active_form="refund_request",
        form_intent="refund",
        requested_slot="reason",
        fallback_count=1,
        last_intent="refund",
        pending_clarify=["refund", "order_status"],
        handed_off=False,
    )
    restored = ConversationState.from_dict(json.loads(json.dumps(state.to_dict(), ensure_ascii=False)))
    assert restored == state
    assert restored.slots is not state.slots


def test_defaults_round_trip():
    assert ConversationState.from_dict(ConversationState().to_dict()) == ConversationState()


def test_missing_fields_default_and_unknown_fields_are_ignored():
    # states stored by an older or newer kefu must still load during an upgrade
    state = ConversationState.from_dict({"language": "en", "mood": "happy", "version": 7})
    assert state == ConversationState(language="en")


def test_copy_is_deep():
    state = ConversationState(slots={"order_id": "A1"}, pending_clarify=["greet"])
    copy = state.copy()
    copy.slots["order_id"] = "B2"
    copy.pending_clarify.append("refund")
    assert state.slots == {"order_id": "A1"} and state.pending_clarify == ["greet"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"fallback_count": -1}, "fallback_count"),
        ({"fallback_count": True}, "fallback_count"),
        ({"slots": {"order_id": ["A1"]}}, "slots"),
        ({"slots": []}, "slots"),
        ({"pending_clarify": "greet"}, "pending_clarify"),
        ({"handed_off": "yes"}, "handed_off"),
        ({"language": 3}, "language"),
    ],
)
def test_invalid_fields_raise_data_error(data, field):
    with pytest.raises(DataError, match=f"field '{field}'"):
        ConversationState.from_dict(data)


def test_non_object_raises_data_error():
    with pytest.raises(DataError, match="JSON object"):
        ConversationState.from_dict(["language", "zh"])
