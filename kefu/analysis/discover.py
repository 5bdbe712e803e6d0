"""New intents among messages the bot could not place (``kefu discover``).

The messages (typically those answered with out-of-scope or fallback) are embedded with the encoder of
the knowledge base (multilingual e5), clustered, and each cluster is named by the terms that set it apart
(:mod:`kefu.analysis.terms`), so that a person can read the biggest, tightest groups first, accept one as
a new intent and retrain on the written YAML.

* Identical messages (up to case, width and spacing, as :mod:`kefu.data.validation` compares texts) are
  embedded and clustered once and count with all their copies in sizes and cohesion.
* Vectors: e5's unit vectors minus their mean over the input, re-normalised. All of e5's vectors share a
  large common component (any two texts have cosine similarity 0.7 or more); taking it out spreads the
  clusters apart and lets cohesion use the range 0..1.
* Clustering: Ward's agglomerative clustering. Weighed on the dev sets of
  ``benchmarks/bench_discovery.py --split dev --compare`` (3,000 BANKING77 training texts, CAIS
  validation; never the test sets reported), with the true k, by NMI on BANKING77 / CAIS: Ward 0.728 /
  0.174 on centred vectors, 0.716 / 0.170 on raw ones; k-means (k-means++, 10 inits) 0.711 / 0.171
  centred, 0.695 / 0.151 raw; average linkage over cosine distance 0.697 / 0.133 centred, 0.646 / 0.251
  raw (it keeps most texts in one giant cluster, which suits CAIS, 86% one intent, and nothing else).
  Ward on centred vectors was the best or next to best on both, and 20 times faster than k-means at
  k = 77. Its memory grows with the square of the number of texts, so beyond :data:`WARD_MAX` distinct
  texts the tree is built on a random sample and the other texts join the nearest cluster mean.
* Number of clusters, when not given: the k of the best BIC (X-means' criterion, Pelleg and Moore 2000;
  see :meth:`WardTree.bic`) over every cut of the Ward tree from 1 to half the distinct texts. Silhouette
  was tried first and rejected: on e5 vectors it only grows with k (up to hundreds of clusters on 3,000
  texts), so the range's upper end, not the data, chose k. BIC chose 63 for BANKING77's 77 intents and
  11 for CAIS's 12 on the dev sets, and one tree serves every k.
* Cohesion: the mean cosine similarity of a cluster's members to its centroid (in the centred space),
  which is the length of the mean of their unit vectors, 0..1. A cluster below :data:`MIXED_BELOW` is
  flagged ``mixed``: loose, to be read closely before it is accepted. On the BANKING77 dev set cohesion
  ran from 0.44 to 0.82 and the loosest clusters were the least pure (the two under 0.5 held 25% and 32%
  of one intent, against 61% on average), but on CAIS the three biggest clusters of song requests fell
  to 0.21-0.28 and were 73-97% pure: many different song names are one need. So the flag informs and
  does not reorder.
* Ranking: by ``size * cohesion`` (many messages about one clear need first), ties by size, then by the
  first member's position in the input.
"""

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kefu.analysis.terms import Term, TermCounter, words
from kefu.entities.annotations import parse_inline
from kefu.errors import KefuError
from kefu.knowledge.dense import Embedder, normalize_rows

SEED = 0
WARD_MAX = 6000  # distinct texts clustered directly (the tree's distance matrix: 6000^2 / 2 doubles, 144 MB)
MIXED_BELOW = 0.3  # cohesion (centred vectors) under which a cluster is flagged as mixed
MAX_EXAMPLES = 5
NAME_TERMS = 2


@dataclass(frozen=True)
class Cluster:
    """One group of similar messages: a candidate intent."""

    name: str  # suggested intent name from its top terms, e.g. "card_arrive", "退款_申请"; unique
    terms: list[Term]  # characteristic terms, best first
    size: int  # messages in it, copies included
    cohesion: float  # mean cosine similarity of members to the centroid, 0..1
    members: list[int]  # indices into the input texts, most central first
    examples: list[str]  # up to 5 most central distinct texts
    mixed: bool = False  # cohesion below MIXED_BELOW: a loose cluster, maybe several needs in one
    texts: list[str] = field(default_factory=list)  # every distinct member text, most central first

    @property
    def score(self) -> float:
        """What clusters are ranked by: size times cohesion."""
        return self.size * self.cohesion

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "size": self.size,
            "distinct": len(self.texts),
            "cohesion": round(self.cohesion, 4),
            "mixed": self.mixed,
            "terms": [t.to_dict() for t in self.terms],
            "examples": list(self.examples),
            "members": list(self.members),
        }


@dataclass(frozen=True)
class Discovery:
    """Everything :func:`find_clusters` found: the ranked clusters and how they were made."""

    clusters: list[Cluster]
    n_clusters: int  # k the texts were clustered into (before dropping clusters under min_size)
    automatic: bool  # k was chosen by BIC
    bic: dict[int, float]  # k -> BIC of every k tried (automatic k only)
    texts: int  # non-blank input texts
    distinct: int  # distinct texts embedded
    left_out: int  # input texts in no cluster (in one under min_size, or blank)
    labels: list[int]  # per input text: its cluster's rank in ``clusters``, or -1

    def to_dict(self) -> dict:
        best = sorted(self.bic, key=lambda k: -self.bic[k])[:5]
        return {
            "n_clusters": self.n_clusters,
            "automatic": self.automatic,
            "bic_best": [{"k": k, "bic": round(self.bic[k], 1)} for k in best],
            "texts": self.texts,
            "distinct": self.distinct,
            "left_out": self.left_out,
            "clusters": [c.to_dict() for c in self.clusters],
        }


def discover(
    texts: Sequence[str],
    embedder: Embedder,
    n_clusters: int | None = None,
    min_size: int = 3,
    *,
    seed: int = SEED,
) -> list[Cluster]:
    """Cluster ``texts`` into candidate intents, ranked best first (see the module's docstring).

    Texts in no cluster of at least ``min_size`` messages are left out; ``n_clusters`` None chooses the
    number of clusters by BIC. ``seed`` picks the sample of inputs over :data:`WARD_MAX` distinct texts.
    """
    return find_clusters(texts, embedder, n_clusters, min_size, seed=seed).clusters


def find_clusters(
    texts: Sequence[str],
    embedder: Embedder,
    n_clusters: int | None = None,
    min_size: int = 3,
    *,
    seed: int = SEED,
    progress: bool = False,
) -> Discovery:
    """:func:`discover`, returning also the k used, the BIC of each k tried and each text's cluster;
    ``progress`` shows a spinner while clustering (the embedder shows its own progress)."""
    if n_clusters is not None and n_clusters < 1:
        raise KefuError(f"the number of clusters must be at least 1, not {n_clusters}")
    min_size = max(1, min_size)
    distinct, key_of, copies = _distinct(texts)
    if not distinct:
        return Discovery([], 0, n_clusters is None, {}, 0, 0, len(texts), [-1] * len(texts))
    vectors = centred(embedder.embed_queries(distinct))
    with _spinner(progress, f"Clustering {len(distinct)} distinct texts"):
        tree = WardTree(vectors, seed)
        bic: dict[int, float] = {}
        if n_clusters is None:
            k, bic = choose_k(tree, copies, min_size)
        else:
            k = min(n_clusters, len(distinct))
        labels = tree.labels(vectors, k)
        clusters, rank_of = _clusters(texts, distinct, key_of, copies, vectors, labels, min_size)
    per_text = [-1 if key is None else rank_of.get(int(labels[key]), -1) for key in key_of]
    left_out = len(texts) - sum(c.size for c in clusters)
    return Discovery(
        clusters, k, n_clusters is None, bic, int(copies.sum()), len(distinct), left_out, per_text
    )


def _spinner(show: bool, message: str):
    if not show:
        from contextlib import nullcontext

        return nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(message)


# ---- texts and vectors -----------------------------------------------------------------------------


def text_key(text: str) -> str:
    """Two texts with the same key are the same message: case, full/half width and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


def _distinct(texts: Sequence[str]) -> tuple[list[str], list[int | None], np.ndarray]:
    """The distinct non-blank texts (as first written, spacing collapsed), each input text's index among
    them (None: blank) and the number of copies of each."""
    index: dict[str, int] = {}
    distinct: list[str] = []
    key_of: list[int | None] = []
    for text in texts:
        key = text_key(text)
        if not key:
            key_of.append(None)
            continue
        if key not in index:
            index[key] = len(distinct)
            distinct.append(" ".join(text.split()))
        key_of.append(index[key])
    copies = np.bincount([i for i in key_of if i is not None], minlength=len(distinct)).astype(np.float64)
    return distinct, key_of, copies


def centred(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors with their mean taken out and re-normalised (see the module's docstring)."""
    vectors = normalize_rows(vectors)
    if len(vectors) < 2:
        return vectors
    return normalize_rows(vectors - vectors.mean(axis=0, keepdims=True))


# ---- clustering ------------------------------------------------------------------------------------


class WardTree:
    """Ward's hierarchical clustering of the vectors (of a sample of :data:`WARD_MAX`, beyond that), built
    once and cut at any number of clusters: choosing k costs no more clusterings."""

    def __init__(self, vectors: np.ndarray, seed: int = SEED) -> None:
        n = len(vectors)
        self.sample = np.arange(n)
        if n > WARD_MAX:
            self.sample = np.sort(np.random.default_rng(seed).choice(n, WARD_MAX, replace=False))
        self.points = np.asarray(vectors, dtype=np.float64)[self.sample]
        self.n, self.d = self.points.shape
        if self.n > 1:
            from scipy.cluster.hierarchy import linkage  # scipy: a requirement of scikit-learn

            self.merges = linkage(self.points, "ward")  # row i: the two merged nodes, distance, size
        else:
            self.merges = np.zeros((0, 4))

    def bic(self, max_k: int | None = None) -> dict[int, float]:
        """The Bayesian information criterion of every cut into k = 1 .. ``max_k`` clusters.

        The clusters are taken as a mixture of spherical Gaussians with one shared variance, as X-means
        does (Pelleg and Moore, 2000): log-likelihood of the points minus ``(parameters / 2) ln n``, with
        k*d means, k-1 weights and the variance as parameters and the variance estimated as
        ``SSE / ((n - k) d)``. One pass over the merges gives every k: a Ward merge raises the within-
        cluster sum of squares (SSE) by half its squared distance.
        """
        n, d = self.n, self.d
        max_k = min(n - 1 if max_k is None else max_k, n - 1)
        if max_k < 1:
            return {1: 0.0} if n else {}
        size = np.concatenate([np.ones(n), self.merges[:, 3]])
        a, b = size[self.merges[:, 0].astype(int)], size[self.merges[:, 1].astype(int)]
        weights = np.cumsum(_xlogx(a + b) - _xlogx(a) - _xlogx(b))  # sum over clusters of n_c ln n_c
        sse = np.cumsum(self.merges[:, 2] ** 2 / 2)
        scores = {}
        for k in range(1, max_k + 1):
            done = n - k - 1  # index of the last merge made
            variance = max(float(sse[done]), 1e-12) / ((n - k) * d)
            likelihood = (
                float(weights[done]) - n * math.log(n) - n * d / 2 * (math.log(2 * math.pi * variance) + 1)
            )
            scores[k] = likelihood - (k * d + k) / 2 * math.log(n)
        return scores

    def labels(self, vectors: np.ndarray, k: int) -> np.ndarray:
        """A cluster id in 0..k-1 for every row of ``vectors`` (the rows the tree was built from): the
        tree cut into k clusters; rows outside the sample go to the nearest cluster mean."""
        k = max(1, min(k, self.n))
        parent = np.arange(2 * self.n - 1) if self.n else np.zeros(0, dtype=np.int64)
        for i in range(self.n - k):  # the first n - k merges (Ward's distances only grow)
            parent[self.merges[i, :2].astype(int)] = self.n + i
        while True:  # pointer jumping: every node to its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        cut = np.unique(parent[: self.n], return_inverse=True)[1].astype(np.int64)
        if len(self.sample) == len(vectors):
            return cut
        means = np.stack([self.points[cut == c].mean(axis=0) for c in range(cut.max() + 1)])
        x = np.asarray(vectors, dtype=np.float64)
        # nearest mean in Euclidean distance: largest x.mu - |mu|^2 / 2
        labels = np.argmax(x @ means.T - (means**2).sum(axis=1) / 2, axis=1)
        labels[self.sample] = cut
        return labels.astype(np.int64)


def _xlogx(a: np.ndarray) -> np.ndarray:
    return a * np.log(np.maximum(a, 1.0))


def max_clusters(distinct: int, copies: int, min_size: int) -> int:
    """The largest k tried: at most half the distinct texts (clusters of one are no intents, and the
    criterion degenerates as k nears n) and at most ``copies / min_size``."""
    return max(1, min(distinct // 2, copies // max(1, min_size)))


def choose_k(tree: WardTree, copies: np.ndarray, min_size: int) -> tuple[int, dict[int, float]]:
    """The number of clusters with the best BIC (see :meth:`WardTree.bic`) and the BIC of each k tried;
    ``copies``: of each distinct text (of the tree's sample only, when it was sampled)."""
    scores = tree.bic(max_clusters(tree.n, int(copies[tree.sample].sum()), min_size))
    if not scores:
        return 1, {}
    return max(scores, key=lambda k: (scores[k], -k)), scores


# ---- clusters --------------------------------------------------------------------------------------


def _clusters(
    texts, distinct, key_of, copies, vectors, labels, min_size
) -> tuple[list[Cluster], dict[int, int]]:
    """The ranked clusters of at least ``min_size`` copies and the rank of each kept cluster id."""
    positions: dict[int, list[int]] = {}  # distinct text -> input indices
    for i, key in enumerate(key_of):
        if key is not None:
            positions.setdefault(key, []).append(i)
    counter = TermCounter()
    for i, key in enumerate(key_of):
        if key is not None:
            counter.add(str(labels[key]), texts[i])
    terms = counter.top(10)

    drafts = []
    for cid in sorted(set(labels.tolist())):
        ids = np.flatnonzero(labels == cid)
        w = copies[ids]
        size = int(w.sum())
        if size < min_size:
            continue
        mean = (vectors[ids] * w[:, None]).sum(axis=0) / w.sum()
        cohesion = float(min(1.0, np.linalg.norm(mean)))
        centre = mean / max(np.linalg.norm(mean), 1e-12)
        similarity = vectors[ids] @ centre
        order = ids[np.lexsort((ids, -similarity))]  # most central first, then first seen
        members = [i for d in order for i in positions[int(d)]]
        cluster_texts = [distinct[int(d)] for d in order]
        drafts.append((cid, terms.get(str(cid), []), size, cohesion, members, cluster_texts))

    drafts.sort(key=lambda d: (-d[2] * d[3], -d[2], d[4][0]))
    names = _unique_names([(t, texts_) for _, t, _, _, _, texts_ in drafts])  # the best keep plain names
    clusters = [
        Cluster(
            name,
            t,
            size,
            cohesion,
            members,
            cluster_texts[:MAX_EXAMPLES],
            cohesion < MIXED_BELOW,
            cluster_texts,
        )
        for name, (_, t, size, cohesion, members, cluster_texts) in zip(names, drafts, strict=True)
    ]
    return clusters, {d[0]: rank for rank, d in enumerate(drafts)}


_NOT_NAME = re.compile(r"[^\w]+")


def slug(text: str) -> str:
    """``text`` as part of an intent name: lower case, words joined by "_" ("credit card" -> credit_card)."""
    return _NOT_NAME.sub("_", unicodedata.normalize("NFKC", text).lower()).strip("_")


def _name(terms: list[Term], texts: list[str], n: int) -> str:
    parts = [s for s in (slug(t.text) for t in terms[:n]) if s]
    if not parts:  # no term occurs twice: the words of the most central text
        parts = [s for s in (slug(w) for w in words(texts[0])[:n]) if s] if texts else []
    if not parts and texts:  # nor has it a content word ("在吗", "嗯？"): the text itself
        parts = [slug(texts[0])]
    name = "_".join(parts)
    return f"intent_{name}" if name[:1].isdigit() else name


def _unique_names(drafts: list[tuple[list[Term], list[str]]]) -> list[str]:
    """A name per cluster from its top terms; a name taken by an earlier cluster gets a third term, then
    a number."""
    names: list[str] = []
    taken: set[str] = set()
    for terms, texts in drafts:
        name = _name(terms, texts, NAME_TERMS) or "cluster"
        if name in taken:
            name = _name(terms, texts, NAME_TERMS + 1) or name
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names.append(name)
    return names


# ---- output ----------------------------------------------------------------------------------------

_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def yaml_text(text: str) -> str | None:
    """``text`` as one example line of a training YAML file, or None when it cannot be one: text that
    reads as entity markup (``[x](type)``) would lose its brackets when loaded."""
    text = " ".join(_NON_PRINTABLE.sub("", text).replace("\ufeff", "").split())
    if not text or parse_inline(text)[0] != text:
        return None
    return text


def training_yaml(clusters: Sequence[Cluster]) -> tuple[str, int]:
    """kefu's Rasa-style training YAML with every distinct text of every cluster under its name, and the
    number of texts left out of it (see :func:`yaml_text`)."""
    lines = [
        "# Written by kefu discover: one intent per cluster, best first. Rename or delete intents, move",
        "# misplaced examples, then add what you keep to data/nlu.yml (or train on this file).",
        'version: "3.1"',
        "nlu:",
    ]
    skipped = 0
    for cluster in clusters:
        terms = ", ".join(t.text for t in cluster.terms[:5])
        mixed = ", mixed" if cluster.mixed else ""
        examples = [line for line in map(yaml_text, cluster.texts) if line is not None]
        skipped += len(cluster.texts) - len(examples)
        if not examples:
            continue
        lines.append(f"# {cluster.size} messages, cohesion {cluster.cohesion:.2f}{mixed}; terms: {terms}")
        lines += [f"- intent: {_yaml_scalar(cluster.name)}", "  examples: |"]
        lines += [f"    - {line}" for line in examples]
    return "\n".join(lines) + "\n", skipped


def _yaml_scalar(name: str) -> str:
    """``name`` as YAML reads it back as the same string: plain unless it would read as something else
    (``yes``, ``null``, ``1e3``)."""
    import yaml

    return name if yaml.safe_load(name) == name else json.dumps(name, ensure_ascii=False)


def write_discovery(discovery: Discovery, out_dir: str | Path) -> tuple[Path, Path, int]:
    """Write ``clusters.json`` and ``clusters.yml`` into ``out_dir``; return their paths and the number
    of texts left out of the YAML."""
    import json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    yml, skipped = training_yaml(discovery.clusters)
    json_path, yml_path = out_dir / "clusters.json", out_dir / "clusters.yml"
    data = discovery.to_dict() | {"left_out_of_yaml": skipped}
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    yml_path.write_text(yml, encoding="utf-8")
    return json_path, yml_path, skipped
