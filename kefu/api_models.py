"""The API's models: the answer of a chat turn and every HTTP request and response body (Pydantic models,
so they make the OpenAPI document).

The answer to a customer message, :class:`TurnResult`, is both what :meth:`kefu.runtime.Bot.handle`
returns and the body of ``POST /api/v1/chat``. Here, not in kefu.runtime or kefu.server, because both
import them: this module imports only the store and the leaf modules below both.
"""

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from kefu.conversation import ConversationStatus
from kefu.store.base import CLIENT_MESSAGE_ID_MAX
from kefu.store.models import CUSTOMER_ID_MAX
from kefu.store.records import TurnRecord
from kefu.store.reviews import MAX_LABEL_TURNS

MAX_MESSAGE_CHARS = 2000  # longer messages are not customer questions; they only cost model time

# An opaque account id, so no e-mail address ('@') or name (spaces) is stored as the key to a customer
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
CUSTOMER_ID_DESCRIPTION = (
    "the site's own id of a signed-in customer (an account id, not an e-mail address or phone number): "
    f"1-{CUSTOMER_ID_MAX} letters, digits and . _ : -"
)


# The store's integer columns (ids, turn numbers) are 32-bit on PostgreSQL: no larger value can exist, and
# handing one to the database fails instead of finding nothing, so requests are refused such numbers
MAX_DB_INT = 2**31 - 1


class _Input(BaseModel):
    # nobody types a NUL character, and PostgreSQL cannot store one: refused in every text of a request
    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class _Record(BaseModel):
    # the store returns frozen dataclasses; these models read them by attribute
    model_config = ConfigDict(from_attributes=True)


# --- the answer ------------------------------------------------------------------------------------


class Button(BaseModel):
    """A quick reply; sending ``payload`` as the next message chooses it."""

    title: str
    payload: str


class Reply(BaseModel):
    """What the widget shows: the text (empty while a human agent has the conversation) and buttons."""

    text: str
    buttons: list[Button] = Field(default_factory=list)


class Source(BaseModel):
    """A knowledge-base passage an answer came from: ``faq.csv:12`` or ``returns.md#Refunds``."""

    source: str
    title: str = ""


class EntityOut(BaseModel):
    type: str
    value: str
    start: int
    end: int
    source: str = "model"


class TurnResult(BaseModel):
    """The outcome of one customer message (also the body of ``POST /api/v1/chat``)."""

    session_id: str
    session_key: str | None = Field(
        None,
        description="only in the answer that started the conversation: the secret to send as the "
        "X-Session-Key header to read the conversation and to continue it; kefu keeps only its hash",
    )
    reply: Reply
    intent: str | None = Field(None, description="the predicted intent; 'out_of_scope' when none fits")
    confidence: float | None = None
    entities: list[EntityOut] = Field(default_factory=list)
    sentiment: dict[str, Any] | None = Field(
        None,
        description='{"label": "negative", "score": 0.93, "probabilities": {...}}; None when the project has no '
        "sentiment head (kefu.yml sentiment.enabled) or the message was a button click",
    )
    sources: list[Source] = Field(default_factory=list)
    handoff: bool = Field(False, description="the conversation is waiting for, or with, a human agent")
    status: ConversationStatus = "bot"
    decision: str | None = Field(None, description="reply, form, clarify, kb, fallback, handoff or cancel")
    seq: int = Field(description="sequence number of the last turn recorded; poll messages after it")
    model_version: str | None = None
    explanation: dict[str, Any] | None = Field(
        None,
        description='only when asked for (explain: true): a score per word for the top-ranked intent, {"text", '
        '"intent", "method", "probability", "tokens": [{"token", "start", "end", "score"}], ...}, with offsets into '
        "its text (the message as the model saw it, personal data masked); None for a button click or while a "
        "human agent has the conversation",
    )


# --- public ---------------------------------------------------------------------------------------


class ChatIn(_Input):
    session_id: str | None = Field(None, max_length=64, description="omit to start a new conversation")
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="the customer's message")
    explain: bool = Field(False, description="also return a score per word for the predicted intent")
    customer_id: str | None = Field(
        None,
        min_length=1,
        max_length=CUSTOMER_ID_MAX,
        pattern=CUSTOMER_ID_PATTERN,
        description=f"{CUSTOMER_ID_DESCRIPTION}. Kept with the conversation so that erasing the customer "
        "(DELETE /api/v1/admin/customers/{customer_id}) deletes it; a conversation of one customer is not "
        "continued for another (a new one starts)",
    )
    client_message_id: str | None = Field(
        None,
        min_length=1,
        max_length=CLIENT_MESSAGE_ID_MAX,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the client's own id of this message (a UUID, say), so that sending it again after a "
        "failed request is safe: a message whose id the conversation already has is not recorded again, "
        "and the answer is the one it got then",
    )


class MessageOut(_Record):
    """One turn as the customer sees it."""

    seq: int
    role: Literal["customer", "bot", "agent"]
    text: str
    created_at: datetime
    buttons: list[dict[str, str]] | None = None
    sources: list[dict[str, Any]] | None = None
    decision: str | None = None


class MessagesOut(BaseModel):
    session_id: str
    status: ConversationStatus
    messages: list[MessageOut]
    last_seq: int = Field(description="pass as ?after= on the next poll")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded (with 503) unless the database is ok")
    model_version: str
    database: Literal["sqlite", "postgresql"] = Field(description="the kind of database (never its URL)")
    database_status: Literal["ok", "failing", "unavailable"] = Field(
        description="unavailable: a read fails now; failing: reads work but a database operation failed "
        "in the last seconds and no write has succeeded since (e.g. SQLite's write lock held elsewhere)"
    )
    knowledge_base: bool


# --- admin ----------------------------------------------------------------------------------------


class LoginIn(_Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: int = Field(description="Unix time the token stops working")
    username: str
    role: Literal["admin", "agent"]


class UserOut(_Record):
    id: int
    username: str
    role: Literal["admin", "agent"]
    created_at: datetime


class UserIn(_Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["admin", "agent"] = "agent"


class PasswordIn(_Input):
    password: str = Field(min_length=8, max_length=1024)


class ConversationSearchIn(_Input):
    """What the dashboard searches for: in the body, because a URL's query ends up in access logs."""

    q: str | None = Field(default=None, max_length=200, description="a session id, or words in any turn")
    status: Literal["bot", "handoff", "human", "closed"] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=MAX_DB_INT)


class ConversationOut(_Record):
    session_id: str
    customer_id: str | None = None
    channel: str
    language: str | None
    status: ConversationStatus
    assigned_agent_id: int | None
    created_at: datetime
    updated_at: datetime


# The store's turn as the dashboard shows it: TurnRecord's fields, made from the record so that the two
# cannot drift apart (a field added to TurnRecord is in the API too, unless named here). Left out: the
# session id, which the detail names once for all its turns, and the client's message id, only ever
# used to recognise a message sent again.
_TURN_NOT_SHOWN = {"session_id", "client_message_id"}
_turn_types = get_type_hints(TurnRecord)
_turn_fields: dict[str, Any] = {
    f.name: (_turn_types[f.name], ... if f.default is dataclasses.MISSING else f.default)
    for f in dataclasses.fields(TurnRecord)
    if f.name not in _TURN_NOT_SHOWN
}
_turn_fields["role"] = (Literal["customer", "bot", "agent"], ...)  # a column constraint in the store
TurnOut = create_model(
    "TurnOut",
    __base__=_Record,
    __doc__="One turn with everything the NLU and the dialogue made of it.",
    **_turn_fields,
)


class ConversationDetail(BaseModel):
    conversation: ConversationOut
    turns: list[TurnOut]


class TicketOut(_Record):
    id: int
    session_id: str
    reason: str
    status: Literal["open", "claimed", "closed"]
    agent_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None = Field(
        None, description="why it was closed: customer_withdrew, timeout, released or closed"
    )


class AgentReplyIn(_Input):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class ReviewOut(_Record):
    id: int
    turn_id: int
    session_id: str
    text: str
    predicted_intent: str | None
    confidence: float | None
    reason: Literal["low_confidence", "fallback", "oos"]
    status: Literal["pending", "labelled", "dismissed"]
    corrected_intent: str | None
    reviewer_id: int | None
    created_at: datetime
    reviewed_at: datetime | None


class LabelIn(_Input):
    intent: str = Field(min_length=1, max_length=128, description="one of GET /api/v1/admin/intents")


class PredictIn(_Input):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    explain: bool = Field(False, description="also return a score per word (see TurnResult.explanation)")
    intent: str | None = Field(
        None, max_length=128, description="the intent to explain (default: the top-ranked)"
    )


class PredictOut(BaseModel):
    """The model's reading of a text, as ``kefu predict --json`` prints it."""

    text: str = Field(description="the text as the model saw it: personal data masked, as in the chat")
    intent: str
    confidence: float
    ranking: list[dict[str, Any]]
    oos: bool
    oos_score: float
    entities: list[dict[str, Any]]
    sentiment: dict[str, Any] | None = None
    explanation: dict[str, Any] | None = None
    model_version: str


class IntentsOut(BaseModel):
    intents: list[str]
    model_version: str


class RetrainJobOut(BaseModel):
    id: str
    status: Literal["running", "succeeded", "failed"]
    step: str = Field(description="export, train, stories, swap, done")
    progress: float = Field(ge=0, le=1)
    epoch: int
    epochs: int
    model_version_before: str | None = None
    model_version: str | None = Field(None, description="the model answering after the job")
    reviewed_examples: int | None = None
    added_examples: int | None = None
    retrained: bool | None = None
    stories: dict[str, Any] | None = Field(
        None,
        description='the project\'s stories (tests/*.yml) against the new model: {"stories", "turns", "passed", '
        '"failed", "failed_stories": [names]}; a failure keeps the old model. None without stories',
    )
    error: str | None = None
    started_at: str
    finished_at: str | None = None


class DayOut(_Record):
    day: date
    total: int
    customer: int
    bot: int
    agent: int


class IntentCountOut(_Record):
    intent: str
    count: int
    share: float


class SentimentDayOut(_Record):
    day: date
    counts: dict[str, int]
    mean_score: float | None


class TopicDayOut(_Record):
    day: date
    counts: dict[str, int] = Field(description="customer turns per top topic (predicted intent)")
    other: int = Field(description="customer turns of all other topics")


class TopicTrendOut(_Record):
    topics: list[str] = Field(description="the window's most frequent topics, most frequent first")
    days: list[TopicDayOut] = Field(description="every UTC day of the window, oldest first")


class TopicSentimentOut(_Record):
    intent: str
    total: int = Field(description="customer turns of the topic that carry a sentiment")
    counts: dict[str, int] = Field(description='per sentiment label, e.g. {"negative": 3, "neutral": 5}')
    mean_score: float | None


class AnalyticsOut(BaseModel):
    days: int
    turns_per_day: list[DayOut]
    intents: list[IntentCountOut]
    fallback_rate: float = Field(description="share of bot turns that were fallbacks")
    handoff_rate: float = Field(description="share of conversations that asked for a human")
    sentiment: list[SentimentDayOut]
    topics: TopicTrendOut = Field(description="customer turns per day of the top topics")
    topic_sentiment: list[TopicSentimentOut] = Field(description="sentiment per topic, most turns first")
    unanswered: int = Field(
        description="customer turns the bot could not answer (fallback, out of scope) waiting for review; "
        "GET /api/v1/admin/clusters groups them"
    )
    model_version: str


class TermOut(BaseModel):
    term: str
    score: float
    count: int = Field(description="questions of the cluster that contain it")


class ClusterOut(BaseModel):
    """Unanswered questions that look alike: a candidate intent."""

    name: str = Field(description="suggested intent name, from its characteristic terms")
    terms: list[TermOut] = Field(description="the words that set it apart, best first")
    size: int
    cohesion: float = Field(ge=0, le=1, description="how alike its questions are (mean cosine to the centre)")
    mixed: bool = Field(description="so little cohesion that it probably holds several needs")
    examples: list[str] = Field(description="its most typical questions")
    turn_ids: list[int] = Field(description="every customer turn in it, most typical first")


class ClustersOut(BaseModel):
    days: int
    unanswered: int = Field(description="unanswered customer turns of the window waiting for review")
    clustered: int = Field(description="how many of them (the most recent) were clustered")
    clusters: list[ClusterOut] = Field(
        description="best first: clear ones before mixed, then by size x cohesion"
    )
    computed_at: datetime
    embedder: str


TurnId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


class AcceptClusterIn(_Input):
    intent: str = Field(
        min_length=1,
        max_length=128,
        description="a new or existing intent: a letter, then letters, digits or _ (at most 64 characters)",
    )
    turn_ids: list[TurnId] = Field(
        min_length=1, max_length=MAX_LABEL_TURNS, description="a cluster's turn_ids"
    )


class AcceptedOut(BaseModel):
    intent: str
    new_intent: bool = Field(description="the answering model does not know it yet: retrain to learn it")
    turn_ids: list[int] = Field(description="the turns labelled with the intent")
    skipped: list[int] = Field(description="turns named that were not waiting for review (any more)")


class DeletedOut(BaseModel):
    deleted: int = Field(description="how many conversations were deleted, with their turns and tickets")


class ErrorOut(BaseModel):
    detail: str


class FieldErrorOut(BaseModel):
    """One field that did not validate (the value itself is not repeated: it may be personal data)."""

    loc: list[str | int] = Field(description='where, e.g. ["body", "text"]')
    msg: str
    type: str


class InvalidOut(BaseModel):
    """422: fields that did not validate, or one line on why a valid request cannot be done."""

    detail: str | list[FieldErrorOut]


# for the routers whose routes raise kefu's one-line 422s, which FastAPI's own 422 document has no room for
INVALID = {422: {"model": InvalidOut, "description": "invalid request"}}
