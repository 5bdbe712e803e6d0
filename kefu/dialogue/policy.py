"""Choose the bot's answer to one customer message.

:func:`decide` is a pure function of the NLU result, the conversation state, the domain and the
knowledge-base hit: it returns the :class:`Decision` and the new state, and never changes the state it
was given. The rules, first match wins:

0. Waiting for (or with) a human agent: decision ``handoff`` with no text, unless the customer
   withdraws (a confident ``cancel`` intent, in the message or one of its clauses) or has waited
   ``policy.handoff_timeout_s`` (the clock is ``now``), or was handed off only for too many fallbacks
   and now asks something the bot understands (an intent with replies at ``leave_form_threshold``):
   then ``Decision.release`` says which and the rules below answer the message. (Before the rules the input is normalised: the language is detected,
   a clicked button (:attr:`NluResult.clicked`) - or a typed option title or number after a clarify
   question - becomes that intent with confidence 1, and this turn's entities fill their slots.)
1. Handoff: a confident handoff intent (the customer asks for a person), or negative sentiment at or
   above ``policy.handoff_on_negative`` on ``policy.negative_turns`` messages in a row (a grievance, not
   one grumpy or misread message). (The third trigger, too many fallbacks, is applied wherever a
   fallback would be given, see 5.) ``Decision.trigger`` says which.
1b. Cancel: a confident intent with ``cancel: true`` ("never mind") ends an open form and is
   acknowledged with its replies (decision ``cancel``).
2. Active form: the requested slot is filled from this turn's entities, or from the whole message for a
   free-text slot; the next missing slot is asked; once complete the form intent's reply is given and
   the form cleared. A different intent at ``policy.leave_form_threshold`` or above, when the message
   did not answer the question, leaves the form and the rules continue. Asking the same question again
   because the answer did not fill the slot counts as a fallback, so a stuck customer reaches a person.
2b. Follow-up: a message that gives a slot (an order number) right after a reply that could have
   used it ("i want a refund" -> "A12345") answers that intent again with the slot, unless the message
   confidently asks for something else. A message that asks the previous question about something else
   ("那寄新疆呢", "what about to tibet?", :func:`~kefu.dialogue.clauses.is_ellipsis`) and no other intent at
   ``leave_form_threshold`` gets that intent's reply again (intents without a form). A knowledge-base passage at ``policy.kb_exact`` or above (a
   near-exact FAQ match) answers before an intent below ``leave_form_threshold``.
3. Clarify: two or more intents with confidence >= ``clarify_min`` within ``clarify_margin`` of the
   best -> ask which one, with buttons titled from ``intent_labels`` in the customer's language.
4. Out of scope (``nlu.oos``, no intent, or confidence below ``confidence_threshold``): the knowledge
   base answer when ``kb_hit.score >= kb_threshold`` (decision ``kb``), else the fallback.
5. In scope but the intent has no replies of its own (FAQ intents, or intents missing from the domain):
   the knowledge-base answer as in 4, else the fallback. Every fallback adds one to
   ``state.fallback_count``; one more than ``max_fallbacks`` in a row is a handoff instead.
6. The intent's reply, a variant picked with ``rng`` and ``{slot}`` placeholders filled. An intent with
   a form whose slots are missing starts the form and asks for the first one instead; so does an intent
   without a form whose every reply needs a slot some form asks for. Slots from earlier requests are
   asked again, except those given on the previous turn ("A12345" -> "cancel it"). A reply that needs
   no form gives way to the knowledge-base passage (at ``kb_threshold`` or above) when the passage is
   closer to the message than the intent's reply by ``policy.kb_beats_reply`` (``KbHit.replies``): the
   customer asked something narrower ("do you ship to malaysia?") than the reply covers.
7. Two questions: when the message has clauses (:attr:`NluResult.parts`) and two or more of them are
   understood (an intent at ``clause_threshold``, default ``leave_form_threshold``, or a knowledge-base
   answer), one of them at ``leave_form_threshold``, and answered (``reply`` or ``kb``) with different
   texts, the answers are joined in one decision.

The reply language follows the customer (:func:`detect_language`, keeping the previous language when a
message has no language of its own) and is stored in the state. Any decision that is not a fallback
resets ``fallback_count``.
"""

import random
import string
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from kefu.dialogue.clauses import is_ellipsis
from kefu.dialogue.domain import Domain, FormSpec, IntentSpec, Texts
from kefu.dialogue.language import detect_language
from kefu.dialogue.state import ConversationState, SlotValue

PAYLOAD_PREFIX = "/intent:"  # the payload of a clarify button is PAYLOAD_PREFIX + intent
MAX_CLARIFY_OPTIONS = 3
ANSWERED = ("reply", "kb", "cancel")  # decisions that answer a clause of a message with several

DecisionKind = Literal["reply", "form", "clarify", "kb", "fallback", "handoff", "cancel"]
HandoffTrigger = Literal["requested", "sentiment", "fallbacks"]  # why the bot handed off
# why a wait for an agent ended: the customer said never mind, waited too long, or - handed off only because
# the bot could not understand - asked something the bot understands
Release = Literal["customer_withdrew", "timeout", "understood"]
KbSearch = Callable[[str], "KbHit | None"]


def button_intent(text: str) -> str | None:
    """The intent a clicked button's payload names (``/intent:refund`` -> ``refund``); None for typed text."""
    text = text.strip()
    if not text.startswith(PAYLOAD_PREFIX):
        return None
    return text[len(PAYLOAD_PREFIX) :].strip() or None


@dataclass
class NluResult:
    """What the NLU found in one message.

    ``ranking`` is best first, as ``(intent, confidence)`` pairs or ``{"intent", "confidence"}`` dicts
    (the form :class:`kefu.Prediction` uses); entities are ``{"type", "value", "start", "end"}`` dicts
    or objects with a ``to_dict()`` giving one (``kefu.entities.Entity``);
    ``sentiment`` is ``{"label": "negative", "score": 0.93}`` or a ``{label: probability}`` dict.
    ``clicked`` is the intent a clicked button named (see :func:`button_intent`), decided once where
    the message is understood; ``parts`` the NLU of each clause of a message with several.
    """

    text: str
    intent: str | None
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    oos: bool = False
    entities: list[dict[str, Any]] = field(default_factory=list)
    sentiment: dict[str, Any] | None = None
    clicked: str | None = None
    parts: list["NluResult"] = field(default_factory=list)

    def __post_init__(self) -> None:
        pairs = [(r["intent"], r["confidence"]) if isinstance(r, dict) else tuple(r) for r in self.ranking]
        if not pairs and self.intent is not None:
            pairs = [(self.intent, self.confidence)]
        self.ranking = sorted(((name, float(conf)) for name, conf in pairs), key=lambda p: -p[1])
        self.entities = [e.to_dict() if hasattr(e, "to_dict") else dict(e) for e in self.entities]


@dataclass(frozen=True)
class KbHit:
    """The best knowledge-base passage for the message; ``score`` on the retriever's scale, and
    ``replies`` the message's similarity on that scale to each intent's own replies (where known)."""

    answer: str
    source: str
    score: float
    replies: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Decision:
    """What to send back. ``handoff`` asks the server to route the conversation to a human agent."""

    kind: DecisionKind
    text: str
    intent: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)  # [{"title", "payload"}]
    sources: list[str] = field(default_factory=list)  # knowledge-base sources of a 'kb' answer
    handoff: bool = False
    trigger: HandoffTrigger | None = None  # set with handoff: why
    release: Release | None = None  # the customer waited for an agent, and the bot answers again: why
    reason: str = ""  # for logs and debugging, in English
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    nlu: NluResult,
    state: ConversationState,
    domain: Domain,
    kb_hit: KbHit | KbSearch | None = None,
    rng: random.Random | None = None,
    now: float | None = None,
) -> tuple[Decision, ConversationState]:
    """Decide the answer to one message; return it with the new conversation state.

    ``kb_hit`` may be a function that searches the knowledge base for a text: it is called only when a
    rule could answer from there (with the text of the message, or of one of its clauses). ``rng``
    picks among reply variants; without one the first variant is always used. ``now`` (seconds since
    the epoch) times a wait for an agent; without it the wait never times out.
    """
    turn = _Turn(nlu, state, domain, kb_hit, rng, now)
    decision, new_state = turn.run()
    if len(nlu.parts) < 2 or decision.kind == "handoff" or state.active_form is not None:
        return decision, new_state
    # two questions in one message: each clause decided in turn, as if sent one after the other
    answers: list[Decision] = []
    part_state = turn.start_state
    policy = domain.policy
    clause_threshold = policy.leave_form_threshold if policy.clause_threshold is None else policy.clause_threshold
    strongest = 0.0
    for part in nlu.parts:
        answer, after = _Turn(part, part_state, domain, kb_hit, rng, now).run()
        # a clause is a question of its own only when it is understood on its own: two weak halves of
        # one sentence ("我想换个尺码 买小了") answered apart would be two wrong answers. Understood is an
        # intent at clause_threshold, or a knowledge-base passage at kb_threshold (the decision's own bar).
        sure = answer.kind == "kb" or (not part.oos and part.confidence >= clause_threshold)
        if sure and answer.kind in ANSWERED and all(answer.text != a.text for a in answers):
            answers.append(answer)
            part_state = after
            strongest = max(strongest, 1.0 if answer.kind == "kb" else part.confidence)
    # and one of them at leave_form_threshold: two middling clauses are more likely one sentence misread
    if len(answers) < 2 or strongest < policy.leave_form_threshold:
        return decision, new_state
    joined = replace(
        answers[0],
        kind="kb" if all(a.kind == "kb" for a in answers) else "reply",
        text="\n\n".join(a.text for a in answers),
        sources=[source for a in answers for source in a.sources],
        release=decision.release,
        reason="two questions: " + " | ".join(a.reason for a in answers),
    )
    return joined, part_state


def negative_score(sentiment: dict[str, Any] | None) -> float | None:
    """The probability that a message is negative, from either sentiment shape; None when unknown."""
    if not sentiment:
        return None
    # classifiers differ in case ("NEGATIVE" from many Hugging Face models)
    if "label" in sentiment:
        return float(sentiment.get("score", 1.0)) if str(sentiment["label"]).lower() == "negative" else 0.0
    value = {str(key).lower(): prob for key, prob in sentiment.items()}.get("negative")
    return float(value) if isinstance(value, int | float) else None


class _Turn:
    """One call of :func:`decide`: the rules as methods sharing the turn's inputs and the new state."""

    def __init__(
        self,
        nlu: NluResult,
        state: ConversationState,
        domain: Domain,
        kb_hit: KbHit | KbSearch | None,
        rng: random.Random | None,
        now: float | None = None,
    ):
        self.nlu, self.domain, self.settings = nlu, domain, domain.policy
        self.kb_hit, self.rng, self.now = kb_hit, rng, now
        self.state = state.copy()
        self.start_state = self.state  # the state the rules start from (after a wait for an agent ends)
        self.intent, self.confidence, self.oos = nlu.intent, nlu.confidence, nlu.oos
        self.ranking = nlu.ranking
        self.clicked = False
        self.filled: set[str] = set()  # slots filled from this turn's entities
        self.fallback_counted = False
        self.notes: list[str] = []  # things worth adding to the decision's reason

    def run(self) -> tuple[Decision, ConversationState]:
        state = self.state
        release = self._release() if state.handed_off else None
        if state.handed_off and release is None:
            decision = Decision(
                "handoff",
                "",
                handoff=True,
                reason="waiting for, or with, a human agent",
                language=state.language or self.domain.languages[0],
            )
            return decision, state
        if release is not None:
            state.handed_off, state.waiting_since, state.handoff_trigger = False, None, None
            self.notes.append(f"wait for an agent ended ({release})")
        self.start_state = state.copy()
        recent = set(state.recent_slots)
        self._resolve_choice(state.pending_clarify)
        state.pending_clarify = []
        state.language = self._language()
        self._fill_slots()
        self._count_negative()
        decision = (
            self._handoff_rule()
            or self._cancel_rule()
            or self._form_rule()
            or self._follow_up_rule()
            or self._ellipsis_rule()
            or self._exact_kb_rule()
            or self._clarify_rule()
            or self._out_of_scope_rule()
            or self._answer_rule(recent)
        )
        if not self.fallback_counted:
            state.fallback_count = 0
        if decision.intent is not None:
            state.last_intent = decision.intent
        if decision.handoff:
            state.waiting_since, state.handoff_trigger = self.now, decision.trigger
        state.recent_slots = sorted(self.filled)
        decision.release = release
        decision.language = state.language
        decision.reason = "; ".join([*self.notes, decision.reason])
        return decision, state

    # input normalisation

    def _release(self) -> Release | None:
        """Why a customer waiting for an agent gets the bot back, if they do."""
        if any(self._is_cancel(part) for part in [self.nlu, *self.nlu.parts]):
            return "customer_withdrew"
        timeout, since = self.settings.handoff_timeout_s, self.state.waiting_since
        if timeout is not None and since is not None and self.now is not None and self.now - since >= timeout:
            return "timeout"
        spec = self.domain.intents.get(self.nlu.intent or "")
        if (
            self.state.handoff_trigger == "fallbacks"
            and spec is not None
            and spec.replies
            and not spec.handoff
            and not self.nlu.oos
            and self.nlu.confidence >= self.settings.leave_form_threshold
        ):
            return "understood"
        return None

    def _is_cancel(self, nlu: NluResult) -> bool:
        spec = self.domain.intents.get(nlu.intent or "")
        return (
            spec is not None
            and spec.cancel
            and not nlu.oos
            and nlu.confidence >= self.settings.confidence_threshold
        )

    def _resolve_choice(self, pending: list[str]) -> None:
        """Turn a clicked button (or a typed option title or number) into its intent, confidence 1."""
        chosen = None
        name = self.nlu.clicked
        if name is not None:
            # only intents the bot could have offered; anything else is treated as ordinary text
            if name in self.domain.intents or name in pending:
                chosen = name
        elif pending:
            typed = _plain(self.nlu.text)
            for number, intent in enumerate(pending, start=1):
                titles = {_plain(self.domain.label(intent, lang)) for lang in self.domain.languages}
                if typed == str(number) or typed in titles:
                    chosen = intent
                    break
        if chosen is not None:
            self.intent, self.confidence, self.oos = chosen, 1.0, False
            self.ranking = [(chosen, 1.0)]
            self.clicked = True
            self.notes.append(f"chose {chosen}")

    def _language(self) -> str:
        languages = self.domain.languages
        previous = self.state.language if self.state.language in languages else None
        if self.clicked:  # a payload or option number says nothing about the customer's language
            return previous or languages[0]
        # entity values (order numbers, emails) are language-neutral, so they are left out
        detected = detect_language(
            _without_entities(self.nlu.text, self.nlu.entities), languages[0], previous
        )
        return detected if detected in languages else previous or languages[0]

    def _fill_slots(self) -> None:
        for entity in self.nlu.entities:
            value = entity.get("value")
            if value is None or value == "":
                continue
            for slot in self.domain.slots_for_entity(entity.get("type", "")):
                if slot not in self.filled:  # the first entity of a type in the message wins
                    self.state.slots[slot] = _slot_value(value)
                    self.filled.add(slot)

    def _count_negative(self) -> None:
        """Count the negative messages in a row (a "never mind" or a click is no grievance)."""
        threshold, score = self.settings.handoff_on_negative, negative_score(self.nlu.sentiment)
        negative = threshold is not None and score is not None and score >= threshold
        if negative and not self.clicked and not self._is_cancel(self.nlu):
            self.state.negative_turns += 1
        else:
            self.state.negative_turns = 0

    # rules

    def _handoff_rule(self) -> Decision | None:
        spec = self.domain.intents.get(self.intent or "")
        # a weak "complaint" is as often a joke or a plain question: only a clear one reaches a person
        if spec is not None and spec.handoff and self._confident(self.settings.handoff_threshold):
            return self._handoff(
                f"customer asked for a person ({spec.name})", "requested", spec.replies, spec.name
            )
        needed = self.settings.negative_turns
        if self.state.negative_turns >= needed:
            return self._handoff(
                f"{self.state.negative_turns} negative messages in a row (sentiment >= "
                f"{self.settings.handoff_on_negative}, negative_turns {needed})",
                "sentiment",
            )
        return None

    def _cancel_rule(self) -> Decision | None:
        spec = self.domain.intents.get(self.intent or "")
        if spec is None or not spec.cancel or not self._confident():
            return None
        if self.state.active_form is not None:
            self.notes.append(f"cancelled form {self.state.active_form}")
        self._clear_form()
        return Decision(
            "cancel", self._text(spec.replies), intent=spec.name, reason=f"{spec.name} {self.confidence:.2f}"
        )

    def _form_rule(self) -> Decision | None:
        state = self.state
        if state.active_form is None:
            return None
        form = self.domain.forms.get(state.active_form)
        intent = self.domain.intents.get(state.form_intent or "")
        if form is None or intent is None or intent.form not in (form.name, None):
            # the domain changed since the form started (the state outlives deployments): drop the form
            self._clear_form()
            return None
        requested = state.requested_slot
        answered = requested in self.filled
        if (
            not answered
            and self.intent != intent.name
            and self._confident(self.settings.leave_form_threshold)
        ):
            self.notes.append(f"left form {form.name}")
            self._clear_form()
            return None
        slot = self.domain.slots.get(requested or "")
        text = self.nlu.text.strip()
        if not answered and slot is not None and slot.free_text and text and not self.clicked:
            state.slots[slot.name] = text
            answered = True
        progress = answered or bool(self.filled & set(form.required))
        return self._ask_or_complete(form, intent.name, progress)

    def _follow_up_rule(self) -> Decision | None:
        """A slot given right after a reply that could have used it answers that intent again."""
        spec = self.domain.intents.get(self.state.last_intent or "")
        if not self.filled or spec is None or spec.form is not None or spec.handoff or spec.cancel:
            return None
        if self.intent != spec.name and self._confident(self.settings.leave_form_threshold):
            return None  # the message asks for something else
        variants = spec.replies.get(self.state.language or "", ())
        if not any(_placeholders(v) & self.filled for v in variants):
            return None
        text = self._text(spec.replies, prefer=self.filled)
        return Decision("reply", text, intent=spec.name, reason=f"follow-up of {spec.name} with {sorted(self.filled)}")

    def _ellipsis_rule(self) -> Decision | None:
        """"那寄新疆呢" / "what about to tibet?" after an answer: that question again, about something else."""
        spec = self.domain.intents.get(self.state.last_intent or "")
        if spec is None or not spec.replies or spec.form is not None or spec.handoff or spec.cancel:
            return None
        if not is_ellipsis(self.nlu.text) or self._confident(self.settings.leave_form_threshold):
            return None
        return self._reply(spec.name, f"ellipsis: the previous question ({spec.name}) again")

    def _exact_kb_rule(self) -> Decision | None:
        exact = self.settings.kb_exact
        if exact is None or self.clicked or self._confident(self.settings.leave_form_threshold):
            return None
        hit = self._search()
        if hit is None or hit.score < exact:
            return None
        reason = f"knowledge base {hit.score:.2f} >= kb_exact {exact} beats {self.intent} {self.confidence:.2f}"
        return Decision("kb", hit.answer, sources=[hit.source], reason=reason)

    def _clarify_rule(self) -> Decision | None:
        margin = self.settings.clarify_margin
        if not margin or self.oos or not self.ranking:
            return None
        best = self.ranking[0][1]
        options = [
            (name, conf)
            for name, conf in self.ranking
            if conf >= self.settings.clarify_min and best - conf <= margin
        ][:MAX_CLARIFY_OPTIONS]
        if len(options) < 2:
            return None
        language = self.state.language
        titles = [self.domain.label(name, language) for name, _ in options]
        self.state.pending_clarify = [name for name, _ in options]
        text = self._text(self.domain.clarify, options=_join(titles, language))
        names = [name for name, _ in options]
        buttons = [{"title": t, "payload": PAYLOAD_PREFIX + n} for t, n in zip(titles, names, strict=True)]
        close = ", ".join(f"{name} {conf:.2f}" for name, conf in options)
        return Decision("clarify", text, buttons=buttons, reason=f"intents within {margin}: {close}")

    def _out_of_scope_rule(self) -> Decision | None:
        if self.oos:
            reason = "out of scope"
        elif self.intent is None:
            reason = "no intent"
        elif self.confidence < self.settings.confidence_threshold:
            reason = f"{self.intent} confidence {self.confidence:.2f} < {self.settings.confidence_threshold}"
        elif self._handoff_intent() and self.confidence < self.settings.handoff_threshold:
            # its replies say "I'm passing you to a colleague": answered without the handoff, they would lie
            reason = f"{self.intent} confidence {self.confidence:.2f} < {self.settings.handoff_threshold} (handoff)"
        else:
            return None
        # an off-topic message (a joke, the weather) is answered honestly but never adds up to a handoff: a
        # person would have nothing more to say to it; only questions the bot fails to understand do
        return self._kb(reason, intent=None) or self._fallback(reason, counts=not self.oos)

    def _answer_rule(self, recent: set[str]) -> Decision:
        assert self.intent is not None  # the out-of-scope rule took the turns without one
        spec = self.domain.intents.get(self.intent)
        if spec is None or not spec.replies:
            reason = f"{self.intent} has no replies"
            return self._kb(reason, intent=self.intent) or self._fallback(
                f"{reason} and no knowledge-base answer"
            )
        form = self.domain.forms[spec.form] if spec.form is not None else self._form_for(spec)
        if form is not None:
            # a new request ("where is my order?") is usually about something new: slots from earlier
            # requests are asked again rather than assumed, unless this message or the one before gave them
            for name in form.required:
                if name not in self.filled and name not in recent:
                    self.state.slots.pop(name, None)
            return self._ask_or_complete(form, spec.name, progress=True)
        return self._closer_passage(spec.name) or self._reply(spec.name, f"{spec.name} {self.confidence:.2f}")

    # decisions

    def _closer_passage(self, intent: str) -> Decision | None:
        """The knowledge-base passage, when it is closer to the message than the intent's own reply by
        ``kb_beats_reply``: the customer asked something narrower than the reply was written for."""
        margin = self.settings.kb_beats_reply
        if margin is None or self.clicked:
            return None
        hit = self._search()
        if hit is None or hit.score < self.settings.kb_threshold or intent not in hit.replies:
            return None
        if hit.score - hit.replies[intent] < margin:
            return None
        reason = f"knowledge base {hit.score:.2f} beats the reply of {intent} {hit.replies[intent]:.2f} by {margin}"
        return Decision("kb", hit.answer, intent=intent, sources=[hit.source], reason=reason)

    def _form_for(self, spec: IntentSpec) -> FormSpec | None:
        """A form asking for the slots that every reply of a form-less intent needs, if there are any."""
        variants = spec.replies.get(self.state.language or "", ()) or next(iter(spec.replies.values()), ())
        needed = set.intersection(*(_placeholders(v) for v in variants)) if variants else set()
        if not needed:
            return None
        return next((f for f in self.domain.forms.values() if needed <= set(f.required)), None)

    def _ask_or_complete(self, form: FormSpec, intent: str, progress: bool) -> Decision:
        state = self.state
        missing = [name for name in form.required if name not in state.slots]
        if not missing:
            self._clear_form()
            return self._reply(intent, f"form {form.name} complete")
        slot = missing[0]
        again = slot == state.requested_slot and not progress
        if again:
            handoff = self._count_fallback()
            if handoff is not None:
                return handoff
        state.active_form, state.form_intent, state.requested_slot = form.name, intent, slot
        reason = f"{'asking again' if again else 'asking'} for {slot} (form {form.name})"
        return Decision("form", self._text(form.ask[slot]), intent=intent, reason=reason)

    def _reply(self, intent: str, reason: str) -> Decision:
        return Decision(
            "reply", self._text(self.domain.intents[intent].replies), intent=intent, reason=reason
        )

    def _search(self) -> KbHit | None:
        return self.kb_hit(self.nlu.text) if callable(self.kb_hit) else self.kb_hit

    def _kb(self, reason: str, intent: str | None) -> Decision | None:
        hit = self._search()
        if hit is None or hit.score < self.settings.kb_threshold:
            return None
        reason = f"{reason}; knowledge base {hit.score:.2f} >= {self.settings.kb_threshold}"
        return Decision("kb", hit.answer, intent=intent, sources=[hit.source], reason=reason)

    def _fallback(self, reason: str, counts: bool = True) -> Decision:
        """The fallback reply; with ``counts``, one more turn towards the handoff after ``max_fallbacks``
        (without, the count stays as it was)."""
        handoff = self._count_fallback() if counts else None
        if not counts:
            self.fallback_counted = True  # keeps the count: an off-topic aside does not reset it either
        return handoff or Decision("fallback", self._text(self.domain.fallback), reason=reason)

    def _count_fallback(self) -> Decision | None:
        """Count one more turn without an answer; the handoff when that is one too many."""
        count, limit = self.state.fallback_count + 1, self.settings.max_fallbacks
        if limit is not None and count > limit:
            return self._handoff(
                f"{count} turns in a row without an answer (max_fallbacks {limit})", "fallbacks"
            )
        self.state.fallback_count = count
        self.fallback_counted = True
        return None

    def _handoff(
        self, reason: str, trigger: HandoffTrigger, replies: Texts | None = None, intent: str | None = None
    ) -> Decision:
        self._clear_form()
        self.state.handed_off = True
        self.state.negative_turns = 0
        text = self._text(replies or self.domain.handoff_reply)
        return Decision("handoff", text, intent=intent, handoff=True, trigger=trigger, reason=reason)

    # helpers

    def _handoff_intent(self) -> bool:
        spec = self.domain.intents.get(self.intent or "")
        return spec is not None and spec.handoff

    def _confident(self, threshold: float | None = None) -> bool:
        if threshold is None:
            threshold = self.settings.confidence_threshold
        return not self.oos and self.intent is not None and self.confidence >= threshold

    def _clear_form(self) -> None:
        self.state.active_form = self.state.form_intent = self.state.requested_slot = None

    def _text(self, texts: Texts, prefer: set[str] = frozenset(), **extra: str) -> str:
        """A variant in the conversation's language with its placeholders filled; variants using a slot in
        ``prefer`` first."""
        variants = texts.get(self.state.language or "") or next((v for v in texts.values() if v), ())
        if not variants:
            return ""
        values = {name: value for name, value in self.state.slots.items() if value is not None}
        values.update(extra)
        # a variant whose placeholders are all known beats one that would show a gap
        complete = [v for v in variants if _placeholders(v) <= values.keys()] or list(variants)
        complete = [v for v in complete if _placeholders(v) & prefer] or complete
        chosen = self.rng.choice(complete) if self.rng is not None else complete[0]
        return _render(chosen, values)


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _render(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown ones become empty (the domain file was validated)."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(str(values.get(name, "")))
    return "".join(parts)


def _join(titles: list[str], language: str | None) -> str:
    """Join button titles for the clarify question: "A, B or C" in English, "A、B还是C" in Chinese."""
    if len(titles) == 1:
        return titles[0]
    if language == "zh":
        return "、".join(titles[:-1]) + "还是" + titles[-1]
    return ", ".join(titles[:-1]) + " or " + titles[-1]


def _plain(text: str) -> str:
    """Lower-cased text without spaces or punctuation, to match a typed option against its title."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _without_entities(text: str, entities: list[dict[str, Any]]) -> str:
    spans = sorted(
        (e["start"], e["end"])
        for e in entities
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
    )
    kept, position = [], 0
    for start, end in spans:
        kept.append(text[position : max(start, position)])
        position = max(position, end)
    kept.append(text[position:])
    return " ".join(kept)


def _slot_value(value: Any) -> SlotValue:
    # slots are stored as JSON; anything richer than a scalar is kept as its text
    return value if isinstance(value, str | int | float | bool) else str(value)
