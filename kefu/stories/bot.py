"""``bot_sender``: a :class:`~kefu.runtime.Bot` as the ``send`` function of :func:`run_stories`."""

from typing import TYPE_CHECKING

from kefu.nlu.oos import OOS_LABEL
from kefu.stories.runner import Observed, Send

if TYPE_CHECKING:
    from kefu.runtime import Bot


def bot_sender(bot: "Bot") -> Send:
    """A ``send(session_id, text) -> Observed`` that asks ``bot`` in-process.

    The intent the bot acted on and the slots are read from what the turn stored: the answer itself
    carries only the model's intent, and no slots. A fallback acted on no intent: its intent reads
    ``out_of_scope`` (the model's guess stays in ``nlu_intent``)."""

    def send(session_id: str | None, text: str) -> Observed:
        result = bot.handle(session_id, text)
        conversation = bot.repo.get_conversation(result.session_id)
        state = conversation.state if conversation is not None else {}
        last = bot.repo.history(result.session_id, limit=1)
        acted = last[-1].intent if last and last[-1].role == "bot" else None
        if acted is None and result.decision == "fallback":
            acted = OOS_LABEL  # the bot fell back: whatever the model guessed, nothing was understood
        return Observed(
            session_id=result.session_id,
            text=result.reply.text,
            buttons=[button.title for button in result.reply.buttons],
            intent=acted or result.intent,
            confidence=result.confidence,
            decision=result.decision,
            handoff=result.handoff,
            status=result.status,
            slots=dict((state or {}).get("slots") or {}),
            sources=[source.source for source in result.sources],
            nlu_intent=result.intent,
        )

    return send
