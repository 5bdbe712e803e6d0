"""Who has a conversation: the one status vocabulary of the store, the runtime and the API.

``bot`` (the bot answers) -> ``handoff`` (waiting in the queue for an agent; the bot still reads the
messages, for a customer who no longer needs a person) -> ``human`` (an agent claimed it; the bot is
silent) -> ``bot`` again, or ``closed``. A leaf module, so the store and the runtime both import it.
"""

from typing import Literal, get_args

ConversationStatus = Literal["bot", "handoff", "human", "closed"]
CONVERSATION_STATUSES: tuple[ConversationStatus, ...] = get_args(ConversationStatus)
WITH_HUMAN: tuple[ConversationStatus, ...] = ("handoff", "human")  # waiting for, or with, a human agent
