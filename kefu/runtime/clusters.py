"""Clusters of the questions the bot could not answer: "these 40 unanswered questions look alike; make
them an intent?"

The customer turns of a window that wait in the review queue because the bot answered them with the
fallback or found them out of scope (:meth:`Repository.unanswered_turns`) are clustered by
:func:`kefu.analysis.discover.discover` with the knowledge base's embedder (:attr:`Bot.embedder`).
Accepting a cluster labels those turns' reviews with an intent, new or existing
(:meth:`Repository.label_turns`), as labelling them one by one in the review queue would: the next retrain
writes them to ``data/reviewed.yml`` and the model learns the intent.

Clustering costs seconds (an embedding per text, a Ward tree cut at the best BIC). A result is kept for
:data:`CACHE_SECONDS` and given again while the window's unanswered turns are the very same ones (any
change, an accepted cluster, a new question or an erased conversation, computes afresh), and the vectors
of texts embedded before are remembered (by a digest of the text, as :class:`LockedEmbedder` does), so a
second computation mostly clusters. Texts are embedded a few at a time, so the chat's knowledge-base
queries, which share the embedder's lock, wait for a small batch at most.
"""

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from kefu.analysis.discover import discover
from kefu.analysis.terms import Term
from kefu.knowledge import Embedder
from kefu.runtime.bot import Bot
from kefu.store import ConflictError, InvalidValueError

MAX_TEXTS = 1000  # the most recent unanswered turns of a window that are clustered
MIN_SIZE = 3  # smaller groups are no clusters
CACHE_SECONDS = 120.0
VECTOR_CACHE_SIZE = 20_000  # e5-small: 1.5 kB each
EMBED_BATCH = 16
INTENT_NAME_MAX = 64
# a letter, then letters (any script), digits or _; "/" may separate parts, as in faq/shipping
_INTENT_NAME = re.compile(r"[^\W\d_]\w*(?:/\w+)*\Z")
INTENT_NAME_RULE = (
    f"an intent name is a letter followed by letters, digits or _ (a / may separate parts, as in "
    f"faq/shipping), at most {INTENT_NAME_MAX} characters"
)


@dataclass(frozen=True)
class FoundCluster:
    """A group of similar unanswered questions, with the turns they were asked in."""

    name: str  # suggested intent name, from the characteristic terms
    terms: list[Term]
    size: int
    cohesion: float  # 0..1, how alike its questions are
    mixed: bool  # cohesion so low it probably holds several needs
    examples: list[str]  # the most central distinct texts
    turn_ids: list[int]  # every turn of the cluster, most central first


@dataclass(frozen=True)
class ClusterReport:
    days: int
    unanswered: int  # unanswered turns in the window
    clustered: int  # how many of them (the most recent, at most MAX_TEXTS) were clustered
    clusters: list[FoundCluster]  # best first
    computed_at: datetime
    embedder: str


@dataclass(frozen=True)
class Accepted:
    intent: str
    new_intent: bool  # the current model does not know it yet: a retrain will learn it
    turn_ids: list[int]  # turns labelled with it
    skipped: list[int]  # turns named that were no longer waiting for review


def check_intent_name(name: str) -> str:
    """``name`` without surrounding spaces; InvalidValueError (which does not repeat it) unless it is a
    valid intent name."""
    name = name.strip() if isinstance(name, str) else ""
    if len(name) > INTENT_NAME_MAX or not _INTENT_NAME.match(name):
        raise InvalidValueError(f"invalid intent name: {INTENT_NAME_RULE}")
    return name


def suggested_intent(name: str) -> str:
    """A cluster's name made a valid intent name (it nearly always is one already)."""
    name = re.sub(r"[^\w/]+", "_", name).strip("_/")[:INTENT_NAME_MAX].rstrip("_/")
    if not name[:1].isalpha():
        name = f"intent_{name}".rstrip("_")[:INTENT_NAME_MAX]
    try:
        return check_intent_name(name)
    except InvalidValueError:
        return "new_intent"


class ClusterFinder:
    """Clusters a bot's unanswered turns per window, caching the result; accepts clusters as intents.

    One instance per server process; safe to call from several threads (one computes at a time, the
    others then find its result).
    """

    def __init__(
        self,
        bot: Bot,
        *,
        max_texts: int = MAX_TEXTS,
        min_size: int = MIN_SIZE,
        ttl: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        embedder: Embedder | None = None,
    ) -> None:
        self.bot = bot
        self.embedder = embedder  # None: the bot's, its knowledge base's
        self.max_texts, self.min_size, self.ttl, self.clock = max_texts, min_size, ttl, clock
        self._lock = threading.Lock()
        self._reports: dict[int, tuple[tuple, float, ClusterReport]] = {}  # days -> (key, when, report)
        self._vectors = _VectorMemo(VECTOR_CACHE_SIZE)

    def report(self, days: int) -> ClusterReport:
        """The clusters among the unanswered turns of the last ``days`` UTC days, best first."""
        repo = self.bot.repo
        turns = repo.unanswered_turns(days, limit=self.max_texts)
        unanswered = len(turns) if len(turns) < self.max_texts else repo.count_unanswered(days)
        embedder = self.embedder or self.bot.embedder
        key = (embedder.name, self.min_size, tuple(t.turn_id for t in turns))
        with self._lock:
            now = self.clock()
            self._reports = {d: v for d, v in self._reports.items() if now - v[1] < self.ttl}
            cached = self._reports.get(days)
            if cached is not None and cached[0] == key:
                return replace(cached[2], unanswered=unanswered)
            found = discover(
                [t.text for t in turns], _Remembering(embedder, self._vectors), min_size=self.min_size
            )
            clusters = [
                FoundCluster(
                    name=suggested_intent(c.name),
                    terms=list(c.terms),
                    size=c.size,
                    cohesion=c.cohesion,
                    mixed=c.mixed,
                    examples=list(c.examples),
                    turn_ids=[turns[i].turn_id for i in c.members],
                )
                for c in found
            ]
            report = ClusterReport(days, unanswered, len(turns), clusters, repo.clock(), embedder.name)
            self._reports[days] = (key, self.clock(), report)
            return report

    def accept(self, intent: str, turn_ids: Sequence[int], reviewer_id: int | None) -> Accepted:
        """Label the pending reviews of ``turn_ids`` with ``intent`` (new or existing); the next retrain
        learns them. ConflictError when none of the turns is waiting for review any more."""
        intent = check_intent_name(intent)
        known = set(self.bot.intents) | {"out_of_scope"}
        labelled = self.bot.repo.label_turns(turn_ids, intent, reviewer_id)
        if not labelled:
            raise ConflictError(
                "none of these turns is waiting in the review queue any more (labelled or dismissed meanwhile)"
            )
        # the cached reports need no clearing: the window's unanswered turns changed, so none matches now
        skipped = sorted({int(i) for i in turn_ids} - set(labelled))
        return Accepted(intent, intent not in known, labelled, skipped)


class _VectorMemo:
    """The last ``size`` vectors by (embedder, kind, digest of the text): no customer's words are kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def get(self, key: bytes) -> np.ndarray | None:
        vector = self._vectors.get(key)
        if vector is not None:
            self._vectors.move_to_end(key)
        return vector

    def put(self, key: bytes, vector: np.ndarray) -> None:
        self._vectors[key] = vector
        if len(self._vectors) > self.size:
            self._vectors.popitem(last=False)


class _Remembering:
    """``inner`` embedding only the texts ``memo`` does not hold, :data:`EMBED_BATCH` at a time."""

    def __init__(self, inner: Embedder, memo: _VectorMemo) -> None:
        self.inner, self.memo, self.name = inner, memo, inner.name

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "query", self.inner.embed_queries)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "passage", self.inner.embed_passages)

    def _embed(
        self, texts: Sequence[str], kind: str, embed: Callable[[Sequence[str]], np.ndarray]
    ) -> np.ndarray:
        keys = [
            hashlib.blake2b(f"{self.name}\0{kind}\0{text}".encode(), digest_size=16).digest()
            for text in texts
        ]
        vectors: list[np.ndarray | None] = [self.memo.get(key) for key in keys]
        missing = [i for i, v in enumerate(vectors) if v is None]
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            for i, row in zip(batch, embed([texts[i] for i in batch]), strict=True):
                vectors[i] = np.array(row, dtype=np.float32)
                self.memo.put(keys[i], vectors[i])
        if not vectors:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(vectors)
