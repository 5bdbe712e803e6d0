"""The domain file: what the bot says, which slots it fills, and how the policy behaves.

A complete small ``domain.yml``::

    languages: [zh, en]            # every text below must exist in each of these ("zh", "en")

    intents:                       # keys are intents the NLU model predicts
      greet:
        replies:                   # language: list of variants (or one string); one is picked per turn
          zh: ["您好！有什么可以帮您？"]
          en: ["Hi! How can I help?", "Hello! What can I do for you?"]
      order_status:
        replies:
          zh: ["您的订单 {order_id} 正在配送中，预计 1-3 天送达。"]   # {slot} placeholders
          en: ["Your order {order_id} is on its way; it should arrive in 1-3 days."]
        form: order_lookup         # collect the form's slots before replying
      refund:
        replies:
          zh: ["已为订单 {order_id} 提交退款申请。"]
          en: ["I have filed a refund for order {order_id}."]
        form: refund_request
      human_agent:
        handoff: true              # the customer asks for a person; replies, if given, replace handoff_reply
      faq_shipping:                # no replies: answered from the knowledge base, else the fallback

    slots:
      order_id: {entity: order_id}     # filled from entities of this type, on any turn
      reason: {free_text: true}        # filled with the customer's whole message when a form asks for it

    forms:
      order_lookup:
        required: [order_id]           # asked in order, except slots the triggering message gave
        ask:
          order_id: {zh: ["请提供您的订单号（例如 A12345）。"], en: ["Could you give me your order number?"]}
      refund_request:
        required: [order_id, reason]
        ask:
          order_id: {zh: ["请提供您的订单号。"], en: ["Which order is it?"]}
          reason: {zh: ["请简单描述退款原因。"], en: ["Why would you like a refund?"]}

    fallback: {zh: ["抱歉，我没有理解您的意思。"], en: ["Sorry, I didn't understand that."]}
    clarify: {zh: ["您是想问：{options}？"], en: ["Did you mean: {options}?"]}   # {options}: button titles
    handoff_reply: {zh: ["正在为您转接人工客服。"], en: ["Let me connect you to a colleague."]}

    intent_labels:                     # button titles for clarify; the intent name is used when missing
      greet: {zh: 打招呼, en: Greeting}
      order_status: {zh: 查询订单, en: Order status}
      refund: {zh: 申请退款, en: Refund}
      human_agent: {zh: 人工客服, en: Talk to a person}
      faq_shipping: {zh: 配送说明, en: Shipping}

    policy:                            # all optional; these are the defaults
      confidence_threshold: 0.5        # below: out of scope
      clarify_margin: 0.1              # top intents this close -> ask which one; null disables clarify
      clarify_min: 0.3                 # ...each offered intent needs at least this confidence
      leave_form_threshold: 0.7        # a different intent this confident leaves an active form; each
                                       # clause of a two-question message must be this confident too
      handoff_threshold: 0.6           # a handoff intent (a request for a person, a complaint) hands off
                                       # only this confident; below, it is answered as any weak intent
      kb_threshold: 0.5                # knowledge-base score needed to answer from it
      max_fallbacks: 2                 # hand off instead of a 3rd fallback in a row; null disables
      handoff_on_negative: 0.85        # hand off when negative sentiment reaches this on a grievance:
      negative_turns: 2                # ...this many negative messages in a row; null disables
      kb_exact: null                   # a knowledge-base score this high beats an intent below
                                       # leave_form_threshold (a near-exact FAQ match); null disables
      kb_beats_reply: null             # a passage this much closer to the message than the intent's
                                       # reply answers instead (a narrower question); null disables
      clause_threshold: null           # each clause of a two-question message needs this confidence
                                       # (one of them leave_form_threshold); null: leave_form_threshold
      handoff_timeout_s: null          # waiting this long for an agent, the bot answers again; null: wait

Sections ``languages``, ``intents``, ``fallback``, ``clarify`` and ``handoff_reply`` are required;
top-level keys starting with ``_`` are ignored, a place for YAML anchors (``_sorry: &sorry {...}``).
Placeholders are plain ``{slot_name}`` (``{{`` and ``}}`` for literal braces); ``clarify`` may also use
``{options}``.

An intent with ``cancel: true`` is "never mind" (``never_mind: {cancel: true, replies: {...}}``): it
ends an open form, or a wait for an agent, and its replies acknowledge it.

:func:`validate_domain` returns every problem as a :class:`~kefu.problems.Problem`, shown as
``"domain.yml:LINE: message"``; problems that do not stop the bot from working are warnings, shown as
``"domain.yml:LINE: warning: message"``. :func:`load_domain` raises :class:`~kefu.errors.ConfigError`
naming the first non-warning problem.
"""

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from kefu.dialogue.domain import LANGUAGES, Domain, FormSpec, IntentSpec, PolicySettings, SlotSpec, Texts
from kefu.errors import ConfigError
from kefu.problems import Problem, errors_only, first_of
from kefu.yaml_lines import LineMap as _Map
from kefu.yaml_lines import LineSeq as _Seq
from kefu.yaml_lines import duplicate_problems, yaml_problem
from kefu.yaml_lines import kind_of as _kind
from kefu.yaml_lines import load_yaml as _load_yaml
from kefu.yaml_lines import suggest as _suggest

SECTIONS = (
    "languages",
    "intents",
    "slots",
    "forms",
    "fallback",
    "clarify",
    "handoff_reply",
    "intent_labels",
    "policy",
)
REQUIRED_SECTIONS = ("languages", "intents", "fallback", "clarify", "handoff_reply")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def load_domain(
    path: str | Path, intents: Iterable[str] | None = None, entity_types: Iterable[str] | None = None
) -> Domain:
    """Read and validate a domain file; raise ``ConfigError`` naming the first problem.

    ``intents`` are the labels the NLU model predicts and ``entity_types`` the entity types the
    extractors produce; either may be None to skip the checks that need it.
    """
    text, unreadable = _read(path)
    if unreadable is not None:
        raise ConfigError(str(unreadable))
    return parse_domain(text, str(path), intents, entity_types)


def parse_domain(
    text: str,
    source: str = "domain.yml",
    intents: Iterable[str] | None = None,
    entity_types: Iterable[str] | None = None,
) -> Domain:
    """Like :func:`load_domain`, for the text of a domain file."""
    domain, problems = analyse_domain(text, source, intents, entity_types)
    errors = errors_only(problems)
    if errors:
        raise ConfigError(first_of(errors))
    assert domain is not None
    return domain


def validate_domain(
    path: str | Path, intents: Iterable[str] | None = None, entity_types: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem of a domain file, in line order; empty when clean."""
    text, unreadable = _read(path)
    if unreadable is not None:
        return [unreadable]
    return analyse_domain(text, str(path), intents, entity_types)[1]


def analyse_domain(
    text: str,
    source: str = "domain.yml",
    intents: Iterable[str] | None = None,
    entity_types: Iterable[str] | None = None,
) -> tuple[Domain | None, list[Problem]]:
    """Parse a domain file's text: the domain (None when there are errors) and all problems found."""
    try:
        data, duplicates = _load_yaml(text)
    except yaml.YAMLError as e:
        return None, [yaml_problem(e, source)]
    builder = _Builder(source, intents, entity_types)
    builder.problems += duplicate_problems(duplicates, source)
    domain = builder.build(data)
    problems = sorted(builder.problems, key=lambda problem: problem.line or 0)
    if domain is None or errors_only(problems):
        return None, problems
    return replace(domain, warnings=tuple(problems)), problems


def _read(path: str | Path) -> tuple[str, Problem | None]:
    """The text of a domain file, or why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return "", Problem(str(path), None, "domain file not found")
    except (OSError, UnicodeDecodeError) as e:
        return "", Problem(str(path), None, f"cannot read domain file: {e}")


# --- checking and building --------------------------------------------------------------------------


class _Builder:
    """Turns the loaded YAML into a :class:`Domain`, recording every problem instead of stopping."""

    def __init__(self, source: str, intents: Iterable[str] | None, entity_types: Iterable[str] | None):
        self.source = source
        self.model_intents = list(intents) if intents is not None else None
        self.entity_types = set(entity_types) if entity_types is not None else None
        self.problems: list[Problem] = []
        self.languages: tuple[str, ...] = ()
        self.slot_names: set[str] = set()

    def error(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def warn(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.source, line, message, "warning"))

    def build(self, data: Any) -> Domain | None:
        if not isinstance(data, _Map):
            self.error(1, "a domain file must be a mapping of sections (languages, intents, fallback, ...)")
            return None
        for key in data:
            # "_name" sections are ignored: a place for YAML anchors shared by several texts
            if key not in SECTIONS and not (isinstance(key, str) and key.startswith("_")):
                self.error(data.line_of(key), f"unknown section {key!r}{_suggest(key, SECTIONS)}")
        for key in REQUIRED_SECTIONS:
            if key not in data:
                self.error(1, f"missing section {key!r}")
        self.languages = self._languages(data)
        slots = self._slots(data)
        self.slot_names = set(slots)
        forms = self._forms(data)
        intents = self._intents(data, forms)
        texts = {
            key: self._texts(data, key, key, extra={"options"} if key == "clarify" else set())
            for key in ("fallback", "clarify", "handoff_reply")
            if key in data
        }
        labels = self._labels(data, intents)
        policy = self._policy(data)
        self._check_slots_filled(data, slots, forms)
        self._check_unused_forms(data, forms, intents)
        return Domain(
            languages=self.languages,
            intents=intents,
            slots=slots,
            forms=forms,
            fallback=texts.get("fallback", {}),
            clarify=texts.get("clarify", {}),
            handoff_reply=texts.get("handoff_reply", {}),
            intent_labels=labels,
            policy=policy,
            source=self.source,
        )

    # sections

    def _languages(self, data: _Map) -> tuple[str, ...]:
        """The declared languages; all supported ones when the section is broken (fewer follow-on errors)."""
        if "languages" not in data:
            return LANGUAGES
        value, line = data["languages"], data.line_of("languages")
        if isinstance(value, str):
            items = [(value, line)]
        elif isinstance(value, _Seq) and value:
            items = [(item, value.line_of(i)) for i, item in enumerate(value)]
        else:
            self.error(line, f"languages: expected a list such as [zh, en], got {_kind(value)}")
            return LANGUAGES
        languages: list[str] = []
        for item, item_line in items:
            if item not in LANGUAGES:
                self.error(
                    item_line, f"languages: {item!r} is not supported (supported: {', '.join(LANGUAGES)})"
                )
            elif item in languages:
                self.error(item_line, f"languages: {item!r} is listed twice")
            else:
                languages.append(item)
        return tuple(languages) or LANGUAGES

    def _slots(self, data: _Map) -> dict[str, SlotSpec]:
        slots: dict[str, SlotSpec] = {}
        for name, spec, line in self._entries(data, "slots", identifiers=True):
            path = f"slots.{name}"
            if not self._keys(spec, path, ("entity", "free_text"), line):
                continue
            entity, free_text = spec.get("entity"), spec.get("free_text", False)
            if not isinstance(free_text, bool):
                self.error(spec.line_of("free_text"), f"{path}.free_text: expected true or false")
            elif entity is not None and not (isinstance(entity, str) and entity):
                self.error(spec.line_of("entity"), f"{path}.entity: expected an entity type name")
            elif (entity is None) == (not free_text):
                self.error(line, f"{path}: give either 'entity: TYPE' or 'free_text: true'")
            else:
                slots[name] = SlotSpec(name, entity, free_text)
        return slots

    def _forms(self, data: _Map) -> dict[str, FormSpec]:
        forms: dict[str, FormSpec] = {}
        for name, spec, line in self._entries(data, "forms"):
            path = f"forms.{name}"
            if not self._keys(spec, path, ("required", "ask"), line):
                continue
            required = spec.get("required")
            if not isinstance(required, _Seq) or not required:
                self.error(spec.line_of("required"), f"{path}.required: expected a non-empty list of slots")
                required = _Seq(line)
            names: list[str] = []
            for i, slot in enumerate(required):
                if not isinstance(slot, str) or slot not in self.slot_names:
                    self.error(
                        required.line_of(i), f"{path}.required: unknown slot {slot!r}{self._slot_hint(slot)}"
                    )
                elif slot in names:
                    self.error(required.line_of(i), f"{path}.required: slot {slot!r} is listed twice")
                else:
                    names.append(slot)
            ask_node = spec.get("ask")
            ask: dict[str, Texts] = {}
            if ask_node is not None and not isinstance(ask_node, _Map):
                self.error(spec.line_of("ask"), f"{path}.ask: expected a mapping of slot: texts")
            for slot in ask_node if isinstance(ask_node, _Map) else ():
                slot_line = ask_node.line_of(slot)
                if slot not in self.slot_names:
                    self.error(slot_line, f"{path}.ask: unknown slot {slot!r}{self._slot_hint(slot)}")
                    continue
                if slot not in names:
                    self.warn(slot_line, f"{path}.ask: slot {slot!r} is not required, so it is never asked")
                ask[slot] = self._texts(ask_node, slot, f"{path}.ask.{slot}")
            for slot in names:
                if not isinstance(ask_node, _Map) or slot not in ask_node:
                    self.error(spec.line_of("ask"), f"{path}.ask: no question for required slot {slot!r}")
            forms[name] = FormSpec(name, tuple(names), ask)
        return forms

    def _intents(self, data: _Map, forms: dict[str, FormSpec]) -> dict[str, IntentSpec]:
        if "intents" in data and not data.get("intents"):
            self.error(data.line_of("intents"), "intents: list at least one intent")
        intents: dict[str, IntentSpec] = {}
        for name, spec, line in self._entries(data, "intents", allow_empty=True):
            path = f"intents.{name}"
            if self.model_intents is not None and name not in self.model_intents:
                self.error(
                    line,
                    f"{path}: unknown intent {name!r}, the model does not predict it"
                    f"{_suggest(name, self.model_intents)}",
                )
            if not self._keys(spec, path, ("replies", "form", "handoff", "cancel"), line):
                continue
            replies = self._texts(spec, "replies", f"{path}.replies") if "replies" in spec else {}
            form, handoff, cancel = spec.get("form"), spec.get("handoff", False), spec.get("cancel", False)
            if not isinstance(handoff, bool):
                self.error(spec.line_of("handoff"), f"{path}.handoff: expected true or false")
                handoff = False
            if not isinstance(cancel, bool):
                self.error(spec.line_of("cancel"), f"{path}.cancel: expected true or false")
                cancel = False
            elif cancel and (handoff or form is not None):
                self.error(spec.line_of("cancel"), f"{path}: a cancel intent cannot also hand off or start a form")
                cancel = False
            elif cancel and "replies" not in spec:
                self.error(spec.line_of("cancel"), f"{path}: a cancel intent needs replies (the acknowledgement)")
            if form is not None and (not isinstance(form, str) or form not in forms):
                self.error(spec.line_of("form"), f"{path}.form: unknown form {form!r}{_suggest(form, forms)}")
                form = None
            elif form is not None and handoff:
                self.error(spec.line_of("form"), f"{path}: a handoff intent cannot also start a form")
            elif form is not None and "replies" not in spec:
                self.error(
                    spec.line_of("form"), f"{path}: needs replies to answer with once its form is complete"
                )
            intents[name] = IntentSpec(name, replies, form, handoff, cancel)
        if self.model_intents is not None and "intents" in data:
            missing = [name for name in self.model_intents if name not in intents]
            if missing:
                self.warn(
                    data.line_of("intents"),
                    f"intents: no entry for model intents {', '.join(missing)}; "
                    "they are answered from the knowledge base or with the fallback",
                )
        return intents

    def _labels(self, data: _Map, intents: dict[str, IntentSpec]) -> dict[str, dict[str, str]]:
        labels: dict[str, dict[str, str]] = {}
        known = self.model_intents
        for intent, spec, line in self._entries(data, "intent_labels"):
            path = f"intent_labels.{intent}"
            if known is not None and intent not in known:
                self.error(line, f"{path}: unknown intent {intent!r}{_suggest(intent, known)}")
            titles: dict[str, str] = {}
            for language, title in spec.items():
                title_line = spec.line_of(language)
                if language not in self.languages:
                    self.error(title_line, f"{path}: language {language!r} is not in languages")
                elif not isinstance(title, str) or not title.strip():
                    self.error(title_line, f"{path}.{language}: expected a non-empty title")
                else:
                    titles[language] = title.strip()
            for language in self.languages:
                if language not in spec:
                    self.error(line, f"{path}: missing language {language!r}")
            labels[intent] = titles
        unlabelled = [name for name, spec in intents.items() if name not in labels]
        if unlabelled and "intents" in data:
            self.warn(
                data.line_of("intents"),
                f"intent_labels: no button title for {', '.join(unlabelled)}; "
                "clarify buttons show the intent name",
            )
        return labels

    def _policy(self, data: _Map) -> PolicySettings:
        node = data.get("policy")
        if node is None:
            return PolicySettings()
        if not isinstance(node, _Map):
            self.error(data.line_of("policy"), f"policy: expected a mapping, got {_kind(node)}")
            return PolicySettings()
        values: dict[str, Any] = {}
        for key, value in node.items():
            line = node.line_of(key)
            check = _POLICY_CHECKS.get(key)
            if check is None:
                self.error(line, f"policy: unknown setting {key!r}{_suggest(key, _POLICY_CHECKS)}")
            elif not check[0](value):
                self.error(line, f"policy.{key} = {value!r} is invalid ({check[1]})")
            else:
                values[key] = value
        return PolicySettings(**values)

    # cross-checks

    def _check_slots_filled(self, data: _Map, slots: dict[str, SlotSpec], forms: dict[str, FormSpec]) -> None:
        node = data.get("slots")
        asked = {slot for form in forms.values() for slot in form.required}
        for slot in slots.values():
            line = node.line_of(slot.name)
            if slot.free_text and slot.name not in asked:
                self.error(
                    line,
                    f"slots.{slot.name}: never filled: a free-text slot is filled only when a "
                    "form asks for it, and no form requires it",
                )
            elif (
                slot.entity is not None
                and self.entity_types is not None
                and slot.entity not in self.entity_types
            ):
                known = ", ".join(sorted(self.entity_types)) or "none"
                self.error(
                    line,
                    f"slots.{slot.name}: never filled: no extractor produces entity type "
                    f"{slot.entity!r} (known types: {known})",
                )

    def _check_unused_forms(
        self, data: _Map, forms: dict[str, FormSpec], intents: dict[str, IntentSpec]
    ) -> None:
        used = {intent.form for intent in intents.values()}
        for name in forms:
            if name not in used:
                self.warn(data["forms"].line_of(name), f"forms.{name}: no intent uses this form")

    # helpers

    def _entries(
        self, data: _Map, section: str, allow_empty: bool = False, identifiers: bool = False
    ) -> Iterable[tuple[str, _Map, int]]:
        """(name, spec, line) for each entry of a ``name: {...}`` section, reporting malformed ones.

        Slot names must be identifiers because they are used as ``{placeholders}``; other names (intent
        labels such as ``faq/shipping``) only need to be non-empty strings.
        """
        node = data.get(section)
        if node is None:
            return
        if not isinstance(node, _Map):
            self.error(
                data.line_of(section), f"{section}: expected a mapping of name: settings, got {_kind(node)}"
            )
            return
        for name, spec in node.items():
            line = node.line_of(name)
            if not isinstance(name, str) or not name.strip():
                # YAML reads yes/no/on/off/true/false and numbers as non-strings
                self.error(line, f"{section}: {name!r} is not a name (quote it)")
            elif identifiers and not _NAME.match(name):
                self.error(line, f"{section}: {name!r} is not a valid name (letters, digits and _ only)")
            elif spec is None and allow_empty:
                yield name, _Map(line), line
            elif not isinstance(spec, _Map):
                self.error(line, f"{section}.{name}: expected a mapping, got {_kind(spec)}")
            else:
                yield name, spec, line

    def _keys(self, spec: _Map, path: str, allowed: tuple[str, ...], line: int) -> bool:
        """Report keys of ``spec`` outside ``allowed``; True when there were none."""
        unknown = [key for key in spec if key not in allowed]
        for key in unknown:
            self.error(spec.line_of(key), f"{path}: unknown key {key!r} (allowed: {', '.join(allowed)})")
        return not unknown

    def _texts(self, parent: _Map, key: str, path: str, extra: set[str] | frozenset = frozenset()) -> Texts:
        """Read ``parent[key]``, a mapping of language: text or list of texts, checking placeholders."""
        node, line = parent.get(key), parent.line_of(key)
        if not isinstance(node, _Map):
            self.error(line, f"{path}: expected a mapping of language: [texts], got {_kind(node)}")
            return {}
        texts: Texts = {}
        for language, value in node.items():
            value_line = node.line_of(language)
            if language not in self.languages:
                self.error(
                    value_line,
                    f"{path}: language {language!r} is not in languages ({', '.join(self.languages)})",
                )
                continue
            items = [(value, value_line)] if isinstance(value, str) else None
            if isinstance(value, _Seq):
                items = [(item, value.line_of(i)) for i, item in enumerate(value)]
            if not items:
                self.error(value_line, f"{path}.{language}: expected a text or a non-empty list of texts")
                continue
            variants = []
            for text, text_line in items:
                if not isinstance(text, str) or not text.strip():
                    self.error(text_line, f"{path}.{language}: expected a non-empty text, got {text!r}")
                elif self._placeholders_ok(text, text_line, f"{path}.{language}", extra):
                    variants.append(text)
            texts[language] = tuple(variants)
        for language in self.languages:
            if language not in node:
                self.error(line, f"{path}: missing language {language!r}")
        return texts

    def _placeholders_ok(self, text: str, line: int, path: str, extra: set[str] | frozenset) -> bool:
        try:
            fields = [
                (name, spec, conv)
                for _, name, spec, conv in string.Formatter().parse(text)
                if name is not None
            ]
        except ValueError as e:
            self.error(line, f"{path}: broken placeholder in {text!r} ({e}; write {{{{ and }}}} for braces)")
            return False
        ok = True
        for name, spec, conversion in fields:
            if not _NAME.match(name) or spec or conversion:
                self.error(line, f"{path}: placeholder {{{name}}} must be a plain {{slot_name}}")
                ok = False
            elif name not in self.slot_names and name not in extra:
                self.error(
                    line,
                    f"{path}: placeholder {{{name}}} refers to unknown slot {name!r}{self._slot_hint(name)}",
                )
                ok = False
        return ok

    def _slot_hint(self, name: Any) -> str:
        return _suggest(name, self.slot_names) if self.slot_names else " (no slots are defined)"


def _probability(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


_POLICY_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "confidence_threshold": (_probability, "a number from 0 to 1"),
    "clarify_margin": (_optional(_probability), "a number from 0 to 1, or null to disable clarifying"),
    "clarify_min": (_probability, "a number from 0 to 1"),
    "leave_form_threshold": (_probability, "a number from 0 to 1"),
    "handoff_threshold": (_probability, "a number from 0 to 1"),
    "kb_threshold": (_number, "a number"),
    "max_fallbacks": (
        _optional(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
        "an integer >= 0, or null to never hand off after fallbacks",
    ),
    "handoff_on_negative": (_optional(_probability), "a number from 0 to 1, or null to disable"),
    "negative_turns": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "an integer >= 1"),
    "kb_exact": (_optional(_number), "a number, or null to disable"),
    "kb_beats_reply": (_optional(_number), "a number, or null to disable"),
    "clause_threshold": (_optional(_probability), "a number from 0 to 1, or null for leave_form_threshold"),
    "handoff_timeout_s": (
        _optional(lambda v: _number(v) and v > 0),
        "a number of seconds > 0, or null to wait for an agent however long it takes",
    ),
}
