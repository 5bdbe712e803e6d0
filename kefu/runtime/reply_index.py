"""How close a customer's message is to each intent's own replies, on the knowledge base's scale.

An intent's reply is written for the usual question ("how long does delivery take?"). A customer who asks
something narrower ("do you ship to malaysia?", "can i return earrings?") is better served by the passage
that says exactly that, and the model's intent cannot tell the two apart. Both texts are embedded in the
knowledge base's space, so the policy can compare the question's similarity to the best passage with its
similarity to the intent's reply (``policy.kb_beats_reply``).
"""

import re

import numpy as np

from kefu.dialogue import Domain
from kefu.knowledge import Embedder
from kefu.knowledge.dense import normalize_rows
from kefu.text.script import simplified

_PLACEHOLDER = re.compile(r"\{\w+\}")


class ReplyIndex:
    """The replies of the intents a passage could answer instead (not handoffs, not "never mind")."""

    def __init__(self, domain: Domain, embedder: Embedder) -> None:
        self._embedder = embedder
        self._names: list[str] = []
        texts: list[str] = []
        for spec in domain.intents.values():
            if spec.handoff or spec.cancel:
                continue
            for variants in spec.replies.values():
                for variant in variants:
                    self._names.append(spec.name)
                    texts.append(simplified(_PLACEHOLDER.sub("", variant)))  # as the index embeds
        self._vectors = normalize_rows(embedder.embed_passages(texts)) if texts else np.zeros((0, 1), np.float32)

    def scores(self, text: str) -> dict[str, float]:
        """The message's cosine similarity to each intent's closest reply (any language)."""
        if not self._names:
            return {}
        query = normalize_rows(self._embedder.embed_queries([simplified(text)]))[0]
        best: dict[str, float] = {}
        for name, score in zip(self._names, (self._vectors @ query).tolist(), strict=True):
            best[name] = max(best.get(name, -1.0), score)
        return best
