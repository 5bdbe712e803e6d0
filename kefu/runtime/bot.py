"""`Bot`: one customer message in, one answer out, everything in between recorded.

    bot = Bot("my-shop")                          # a project trained with train_project
    result = bot.handle(None, "where is my order")   # a new conversation
    result = bot.handle(result.session_id, "A12345") # the same conversation, next turn

A turn: redact -> intent model -> knowledge base (only when the dialogue could use it) -> decide with the
conversation's stored state -> record the customer's turn, the bot's turn, the new state, a review or a
handoff ticket in one transaction -> the answer. Nothing about a conversation lives in memory, so any
number of bots (server workers) on one database serve the same conversations.
"""

import logging
import os
import random
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from kefu.api_models import MAX_MESSAGE_CHARS, Button, EntityOut, Reply, Source, TurnResult
from kefu.conversation import WITH_HUMAN
from kefu.dialogue import ConversationState, Decision, KbHit, NluResult, decide
from kefu.dialogue.clauses import split_clauses
from kefu.dialogue.policy import button_intent
from kefu.errors import DataError, KefuError
from kefu.knowledge import Embedder
from kefu.nlu.model import Prediction
from kefu.nlu.oos import OOS_LABEL
from kefu.project import Project, load_project
from kefu.project.training import default_embedder
from kefu.runtime.embedders import LockedEmbedder, embedder_for
from kefu.runtime.engine import Engine, files_stamp, load_domain_for, load_engine, load_model, reply_index
from kefu.runtime.privacy import project_entity_redaction, project_redaction
from kefu.runtime.recording import BotTurn, Recorded, record_exchange, sent_before
from kefu.store import ConversationRecord, Repository, open_repository
from kefu.store.conversations import new_access_key
from kefu.store.db import ENV_URL

log = logging.getLogger("kefu.runtime")

RELOAD_CHECK_SECONDS = 2.0  # how often a bot looks for a model retrained by another process


class MessageError(KefuError):
    """A customer message that cannot be handled (empty or too long)."""


# --- the bot ---------------------------------------------------------------------------------------


def default_database_url(project_dir: str | Path) -> str:
    """$KEFU_DATABASE_URL, else ``kefu.db`` in the project folder."""
    return os.environ.get(ENV_URL) or f"sqlite:///{Path(project_dir).resolve() / 'kefu.db'}"


class Bot:
    """A trained project answering customers, its conversations kept in ``repository``.

    ``embedder`` must be the one the knowledge index was built with (default: e5, created on demand);
    ``rng`` picks among reply variants (default: a fresh ``random.Random``); ``watch`` reloads the model
    when another process retrains the project.
    """

    def __init__(
        self,
        project_dir: str | Path,
        repository: Repository | None = None,
        *,
        embedder: Embedder | None = None,
        rng: random.Random | None = None,
        watch: bool = True,
    ) -> None:
        self.project: Project = load_project(project_dir)
        self.redact = project_redaction(self.project.settings)  # kefu.yml privacy: what is masked
        self.redact_entity = project_entity_redaction(self.project.settings)
        self.repo = repository or open_repository(default_database_url(self.project.root))
        self.rng = rng or random.Random()
        self.watch = watch
        self.given_embedder = embedder  # also what a retrain rebuilds the knowledge index with
        self._embedders: dict[str, LockedEmbedder] = {}
        self._swap_lock = threading.Lock()
        self._engine = load_engine(self.project, self._embedder)
        self._checked_at = time.monotonic()
        self._reloading = False

    # -- public ------------------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The model, domain and knowledge base answering right now."""
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    @property
    def embedder(self) -> Embedder:
        """The knowledge base's embedder (shared with it, safe between threads): what else embeds customers'
        texts, such as the dashboard's clusters of unanswered questions, uses it too. A project without a
        knowledge base gets the embedder given to the bot, else e5."""
        kb = self._engine.kb
        if kb is not None:
            return kb.embedder
        name = self.given_embedder.name if self.given_embedder is not None else default_embedder().name
        return self._embedder(name)

    @property
    def intents(self) -> list[str]:
        """The intents the current model predicts (what a reviewer may correct a label to)."""
        return list(self._engine.model.labels)

    def handle(
        self,
        session_id: str | None,
        text: str,
        explain: bool = False,
        *,
        customer_id: str | None = None,
        client_message_id: str | None = None,
    ) -> TurnResult:
        """Answer one customer message; ``session_id`` None (or unknown) starts a new conversation, and
        the answer carries its ``session_key`` (what the chat API asks of a client to read or continue it).

        ``explain`` adds a score per word of the (redacted) message for the predicted intent: it costs a few
        more model passes, so it is off unless asked for. ``customer_id`` is the site's id of a signed-in
        customer, kept with the conversation so that erasing the customer finds it (see
        :meth:`Repository.get_or_create_conversation` for whose conversation is continued). A message sent
        again with the same ``client_message_id`` (1-64 characters of the client's choosing, say a UUID)
        is answered with what was recorded for it the first time, and recorded once."""
        text = self.redact(_checked(text))
        self._maybe_reload()
        engine = self._engine  # one engine for the whole turn, even if a swap happens meanwhile
        key, key_hash = new_access_key()
        conversation = self._conversation(session_id, customer_id, key_hash)
        new_key = key if conversation.access_key_hash == key_hash else None
        if client_message_id is not None and new_key is None:
            before = sent_before(self.repo, conversation, client_message_id)
            if before is not None:  # a resend: its answer without the model
                return _result(before, None)
        record = partial(
            record_exchange, self.repo, conversation.session_id, client_message_id=client_message_id
        )
        if conversation.status == "human":
            # an agent has the conversation: no model time, no bot answer, only the customer's words
            return _result(record(text, {}, lambda *_: None), None, session_key=new_key)
        # still waiting for an agent ('handoff'), the message is understood all the same: a customer who
        # no longer needs a person, or has waited too long, gets the bot back
        prediction, nlu = self._understand(engine, text)
        knowledge = _Knowledge(engine, nlu)
        now = self.repo.clock().timestamp()
        # A dry run of the policy on the state as read before the model: it searches the knowledge base
        # (an embedding costs more than all the rest of a turn) only if the answer could come from there,
        # and does it here, outside the write lock. The decision under the lock reuses that search, or
        # makes it then if the state has changed meanwhile (two messages of one conversation at once).
        decide(nlu, self._state(conversation.state or {}, conversation.status), engine.domain, knowledge, now=now)
        fields = {
            "intent": prediction.intent,
            "confidence": prediction.confidence,
            "oos": prediction.oos,
            "entities": [self.redact_entity(e.to_dict()) for e in prediction.entities],
            "sentiment": prediction.sentiment,  # the store keeps its label and score
            "model_version": engine.version,
        }

        def respond(status: str, stored: dict[str, Any]) -> BotTurn | None:
            if status not in ("bot", "handoff"):  # an agent claimed the conversation meanwhile
                return None
            decision, state = decide(nlu, self._state(stored, status), engine.domain, knowledge, self.rng, now)
            if status == "handoff" and decision.release is None:
                return None  # still waiting for an agent
            return self._bot_turn(engine, nlu, decision, state, knowledge.titles)

        recorded = record(text, fields, respond)
        explanation = _explanation(engine, nlu) if explain and not recorded.replayed else None
        return _result(recorded, prediction, explanation, new_key)

    def swap_model(self, new_dir: str | Path) -> str:
        """Load the model in ``new_dir`` completely, then make it the one answering; returns its version.

        The domain is reloaded and checked against the new model's intents first, so a model the domain
        does not fit is refused (with the error) and the old one keeps answering.
        """
        model, version = load_model(Path(new_dir))
        domain = load_domain_for(self.project, model)
        replies = reply_index(domain, self._engine.kb)
        with self._swap_lock:
            self._engine = replace(
                self._engine,
                model=model,
                domain=domain,
                replies=replies,
                version=version,
                stamp=files_stamp(self.project),
            )
        log.info("model %s is answering", version)
        return version

    def reload(self) -> str:
        """Load model, domain and knowledge base afresh from the project's files and swap them in."""
        project = load_project(self.project.root)  # kefu.yml may have changed too (knowledge.min_score)
        engine = load_engine(project, self._embedder)
        with self._swap_lock:
            self.project = project
            self.redact = project_redaction(project.settings)
            self.redact_entity = project_entity_redaction(project.settings)
            self._engine = engine
        log.info("model %s is answering (reloaded)", engine.version)
        return engine.version

    def close(self) -> None:
        """Release the database connections."""
        self.repo.store.dispose()

    # -- the steps of a turn -------------------------------------------------------------------------

    def _conversation(
        self, session_id: str | None, customer_id: str | None, key_hash: str
    ) -> ConversationRecord:
        """The conversation to continue, or a new one with ``key_hash``."""
        find = self.repo.get_or_create_conversation
        conversation = self.repo.store.retrying(
            lambda: find(session_id, customer_id=customer_id, access_key_hash=key_hash)
        )
        if conversation.status == "closed":  # a closed conversation is history; a new message starts anew
            conversation = self.repo.store.retrying(
                lambda: find(None, customer_id=customer_id, access_key_hash=key_hash)
            )
        return conversation

    @staticmethod
    def _understand(engine: Engine, text: str) -> tuple[Prediction, NluResult]:
        """The model's prediction, and what the policy reads of it: a clicked button needs no model (its
        payload names the intent); a message of several clauses is also read clause by clause."""
        clicked = button_intent(text)
        if clicked is not None and clicked in engine.domain.intents:
            prediction = Prediction(text, clicked, 1.0, [{"intent": clicked, "confidence": 1.0}])
            return prediction, _nlu_result(prediction, clicked)
        clauses = split_clauses(text)
        predictions = engine.model.predict([text, *clauses] if len(clauses) > 1 else [text])
        nlu = _nlu_result(predictions[0])
        nlu.parts = [_nlu_result(part) for part in predictions[1:]]
        return predictions[0], nlu

    @staticmethod
    def _state(stored: dict[str, Any], status: str) -> ConversationState:
        try:
            state = ConversationState.from_dict(stored)
        except DataError as error:  # a state damaged by hand: starting over beats failing every turn
            log.warning("conversation state reset: %s", error)
            state = ConversationState()
        # status 'bot' after a handoff: an agent handed the conversation back, and the bot speaks again
        state.handed_off = status == "handoff"
        return state

    def _bot_turn(
        self,
        engine: Engine,
        nlu: NluResult,
        decision: Decision,
        state: ConversationState,
        titles: dict[str, str],
    ) -> BotTurn:
        fields = {
            "intent": decision.intent,
            "decision": decision.kind,
            "sources": [{"source": s, "title": titles.get(s, "")} for s in decision.sources],
            "buttons": decision.buttons,
            "model_version": engine.version,
        }
        return BotTurn(
            text=decision.text,
            state=state.to_dict(),
            language=decision.language,
            fields=fields,
            review=_review_reason(engine, nlu, decision),
            handoff_reason=decision.trigger if decision.handoff else None,
            close_reason=decision.release,
        )

    # -- model reloading -----------------------------------------------------------------------------

    def _embedder(self, name: str) -> Embedder:
        if name not in self._embedders:
            self._embedders[name] = LockedEmbedder(embedder_for(name, self.given_embedder))
        return self._embedders[name]

    def _maybe_reload(self) -> None:
        """Every few seconds, compare the saved files with the loaded ones; reload in the background
        when another process (a retrain in another worker) replaced them."""
        now = time.monotonic()
        if not self.watch or self._reloading or now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        self._checked_at = now
        if files_stamp(self.project) == self._engine.stamp:
            return
        self._reloading = True
        threading.Thread(target=self._reload_quietly, name="kefu-reload", daemon=True).start()

    def _reload_quietly(self) -> None:
        try:
            self.reload()
        except (KefuError, OSError) as error:  # e.g. caught between two renames: try again next check
            log.warning("model reload failed, still answering with %s: %s", self._engine.version, error)
        finally:
            self._reloading = False


# --- helpers ---------------------------------------------------------------------------------------


class _Knowledge:
    """The knowledge base's answers to one message (or its clauses), each text searched on the first call
    and remembered; ``titles`` maps the answers' sources to their passage titles for the reply's sources.
    A clicked button is no question: nothing is searched for it."""

    def __init__(self, engine: Engine, nlu: NluResult) -> None:
        self.engine, self.clicked = engine, nlu.clicked is not None
        self.titles: dict[str, str] = {}
        self._hits: dict[str, KbHit | None] = {}

    def __call__(self, text: str) -> KbHit | None:
        if text not in self._hits:
            self._hits[text] = self._search(text)
        return self._hits[text]

    def _search(self, text: str) -> KbHit | None:
        engine = self.engine
        if engine.kb is None or self.clicked:
            return None
        hit = engine.kb.answer(text, min_score=engine.min_score)
        if hit is None:
            return None
        passage = hit.passage
        self.titles[passage.source] = passage.title
        replies = engine.replies.scores(text) if engine.replies is not None else {}
        return KbHit(passage.answer, passage.source, hit.dense_score, replies)


def _checked(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise MessageError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageError(f"the message is longer than {MAX_MESSAGE_CHARS} characters")
    return text.strip()


def _nlu_result(prediction: Prediction, clicked: str | None = None) -> NluResult:
    # the out-of-scope class is not an intent a customer could be offered in a clarify question
    ranking = [r for r in prediction.ranking if r["intent"] != OOS_LABEL]
    return NluResult(
        text=prediction.text,
        intent=None if prediction.oos else prediction.intent,
        confidence=prediction.confidence,
        ranking=ranking,
        oos=prediction.oos,
        entities=list(prediction.entities),
        sentiment=prediction.sentiment,
        clicked=clicked,
    )


def _review_reason(engine: Engine, nlu: NluResult, decision: Decision) -> str | None:
    """Why a person should check the customer's turn, if they should: the bot could not answer, or
    guessed. Turns the knowledge base answered are not queued: the answer shows its source."""
    if nlu.clicked is not None or decision.kind == "kb":
        return None
    if decision.kind == "fallback":
        return "fallback"
    if nlu.oos:
        return "oos"
    if decision.kind == "clarify" or nlu.confidence < engine.domain.policy.confidence_threshold:
        return "low_confidence"
    return None


def _explanation(engine: Engine, nlu: NluResult) -> dict | None:
    """The model's word scores for its top-ranked intent; None for a clicked button (no model involved)."""
    if nlu.clicked is not None:
        return None
    return engine.model.explain(nlu.text).to_dict()


def _result(
    recorded: Recorded,
    prediction: Prediction | None,
    explanation: dict | None = None,
    session_key: str | None = None,
) -> TurnResult:
    conversation, bot, customer = recorded.conversation, recorded.bot, recorded.customer
    last = bot or customer
    if recorded.replayed:  # what the model made of the message the first time, as recorded
        understood: dict[str, Any] = {"intent": customer.intent, "confidence": customer.confidence}
        understood["entities"] = [EntityOut(**e) for e in customer.entities or []]
        if customer.sentiment is not None:
            understood["sentiment"] = {"label": customer.sentiment, "score": customer.sentiment_score}
    elif prediction is not None:
        understood = {"intent": prediction.intent, "confidence": prediction.confidence}
        understood["entities"] = [EntityOut(**e.to_dict()) for e in prediction.entities]
        understood["sentiment"] = prediction.sentiment
    else:
        understood = {}
    return TurnResult(
        session_id=conversation.session_id,
        session_key=session_key,
        reply=Reply(
            text=bot.text if bot else "", buttons=[Button(**b) for b in (bot.buttons or [])] if bot else []
        ),
        **understood,
        sources=[Source(**s) for s in (bot.sources or [])] if bot else [],
        handoff=conversation.status in WITH_HUMAN,
        status=conversation.status,
        decision=bot.decision if bot else None,
        seq=last.seq,
        model_version=last.model_version,
        explanation=explanation,
    )
