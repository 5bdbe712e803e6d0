"""The loaded parts of a trained project (intent model, domain, knowledge base) as one immutable bundle.

The bot holds a single reference to an :class:`Engine` and every turn reads that reference once, so a
swap (a retrained model) is one assignment: turns in flight finish with the engine they started with,
new turns get the new one, and nobody ever sees a model from one version with a domain from another.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kefu.dialogue import Domain, load_domain
from kefu.errors import ArtifactError
from kefu.knowledge import Embedder, KnowledgeBase
from kefu.knowledge.base import META_FILE
from kefu.nlu.model import Model
from kefu.project import Project
from kefu.project.training import FINGERPRINT_KEY, knowledge_index_dir, model_version, nlu_model_dir
from kefu.runtime.reply_index import ReplyIndex

Stamp = tuple[int | None, int | None]


@dataclass(frozen=True)
class Engine:
    """Everything a turn reads besides the conversation: swapped as a whole, never changed in place."""

    model: Model
    domain: Domain
    kb: KnowledgeBase | None
    min_score: float  # the knowledge base answers only at this e5 similarity or more
    replies: ReplyIndex | None  # the intents' replies in the knowledge base's space (None without one)
    version: str  # the model's short fingerprint, recorded on every bot turn
    stamp: Stamp  # modification times of the saved model and index it was loaded from


def files_stamp(project: Project) -> Stamp:
    """When the saved model and knowledge index last changed (None where there is none).

    Another server process that retrains replaces these files; comparing stamps is how this one notices.
    """
    return (_mtime(nlu_model_dir(project) / "metrics.json"), _mtime(knowledge_index_dir(project) / META_FILE))


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def load_model(model_dir: Path) -> tuple[Model, str]:
    """The model in ``model_dir`` and its version; a clear error when the project was never trained."""
    if not (model_dir / "config.json").is_file():
        raise ArtifactError(f"{model_dir}: no trained model; train the project first (kefu serve trains it)")
    model = Model.load(model_dir)
    return model, model_version(model.metrics.get(FINGERPRINT_KEY))


def load_domain_for(project: Project, model: Model) -> Domain:
    """The project's domain, checked against the intents ``model`` predicts."""
    return load_domain(project.domain, intents=model.labels)


def reply_index(domain: Domain, kb: KnowledgeBase | None) -> ReplyIndex | None:
    """The domain's replies embedded for ``policy.kb_beats_reply``; None when it is off or there is no
    knowledge base (embedding the replies takes a moment at start-up, so only when they are used)."""
    if kb is None or domain.policy.kb_beats_reply is None:
        return None
    return ReplyIndex(domain, kb.embedder)


def load_knowledge(project: Project, embedder_for: Callable[[str], Embedder]) -> KnowledgeBase | None:
    """The saved knowledge index, or None when the project has none. ``embedder_for(name)`` supplies the
    embedder the index was built with."""
    index = knowledge_index_dir(project)
    if not (index / META_FILE).is_file():
        return None
    try:
        name = json.loads((index / META_FILE).read_text(encoding="utf-8"))["embedder"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ArtifactError(f"{index}: damaged knowledge index; train the project again") from None
    return KnowledgeBase.load(index, embedder_for(name))


def load_engine(project: Project, embedder_for: Callable[[str], Embedder]) -> Engine:
    """Load the trained model, the domain and the knowledge index of ``project``."""
    stamp = files_stamp(project)  # before reading: a change while loading is then noticed next time
    model, version = load_model(nlu_model_dir(project))
    domain, kb = load_domain_for(project, model), load_knowledge(project, embedder_for)
    return Engine(
        model=model,
        domain=domain,
        kb=kb,
        min_score=project.settings.knowledge.min_score,
        replies=reply_index(domain, kb),
        version=version,
        stamp=stamp,
    )
