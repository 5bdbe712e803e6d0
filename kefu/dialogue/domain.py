"""The domain of a bot as the dialogue policy reads it: intents, slots, forms, texts and policy settings.

:mod:`kefu.dialogue.domain_file` builds a :class:`Domain` from a ``domain.yml`` and documents its format.
"""

from dataclasses import dataclass, field

from kefu.problems import Problem

LANGUAGES = ("zh", "en")  # the languages detect_language can tell apart

Texts = dict[str, tuple[str, ...]]  # language -> reply variants


@dataclass(frozen=True)
class IntentSpec:
    name: str
    replies: Texts = field(default_factory=dict)  # empty: answered from the knowledge base
    form: str | None = None
    handoff: bool = False
    cancel: bool = False  # "never mind": ends an open form or a wait for an agent


@dataclass(frozen=True)
class SlotSpec:
    name: str
    entity: str | None = None  # entity type that fills the slot
    free_text: bool = False  # filled with the whole message when a form asks for it


@dataclass(frozen=True)
class FormSpec:
    name: str
    required: tuple[str, ...]
    ask: dict[str, Texts]  # slot -> question


@dataclass(frozen=True)
class PolicySettings:
    """The ``policy`` section; see :mod:`kefu.dialogue.domain_file` for what each setting does."""

    confidence_threshold: float = 0.5
    clarify_margin: float | None = 0.1
    clarify_min: float = 0.3
    leave_form_threshold: float = 0.7
    handoff_threshold: float = 0.6
    kb_threshold: float = 0.5
    max_fallbacks: int | None = 2
    handoff_on_negative: float | None = 0.85
    negative_turns: int = 2
    kb_exact: float | None = None
    kb_beats_reply: float | None = None
    clause_threshold: float | None = None
    handoff_timeout_s: float | None = None


@dataclass(frozen=True)
class Domain:
    """A validated domain file."""

    languages: tuple[str, ...]
    intents: dict[str, IntentSpec]
    slots: dict[str, SlotSpec]
    forms: dict[str, FormSpec]
    fallback: Texts
    clarify: Texts
    handoff_reply: Texts
    intent_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    policy: PolicySettings = field(default_factory=PolicySettings)
    source: str = "domain.yml"
    warnings: tuple[Problem, ...] = ()

    def label(self, intent: str, language: str) -> str:
        """The button title of ``intent`` in ``language``, or a readable form of its name."""
        return self.intent_labels.get(intent, {}).get(language) or intent.replace("_", " ")

    def slots_for_entity(self, entity_type: str) -> list[str]:
        """Names of the slots an entity of ``entity_type`` fills."""
        return [slot.name for slot in self.slots.values() if slot.entity == entity_type]
