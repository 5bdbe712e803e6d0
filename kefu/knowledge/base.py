"""The knowledge base: passages, a BM25 index and a dense index, searched together.

>>> kb = KnowledgeBase.from_folder("knowledge/", E5Embedder(), index_dir="knowledge/.index")
>>> kb.search("how long does delivery take", k=3)
>>> kb.answer("退款多久到账")          # the best hit, or None when the knowledge base is not confident

A saved index is a folder of plain files, no pickles:

* ``kb.json``: format version, fingerprint, embedder name, fusion settings, passages, BM25 settings and
  vocabulary;
* ``index.safetensors``: the passage embeddings and the BM25 postings arrays.

The fingerprint is a SHA-256 of everything the index depends on (passages, tokenizer and BM25 settings,
embedder name), so :meth:`KnowledgeBase.from_folder` rebuilds exactly when the folder (or a setting)
changed.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from kefu.errors import ArtifactError, DataError
from kefu.knowledge.bm25 import BM25, DEFAULT_B, DEFAULT_K1, Tokenizer
from kefu.knowledge.dense import DenseIndex, Embedder, normalize_rows
from kefu.knowledge.documents import Passage, load_folder
from kefu.knowledge.hybrid import DEFAULT_FUSION, Fusion, fuse
from kefu.text.script import simplified

FORMAT = "kefu-kb/1"
META_FILE, ARRAYS_FILE = "kb.json", "index.safetensors"
SCRIPT = "simplified"  # the script passages and queries are embedded in (kefu.text.script)
ANSWER_CANDIDATES = 3  # fused hits among which `answer` picks the one most similar to the question

# Answer only when the best hit's e5 cosine similarity to the query reaches this. e5 similarities are
# squeezed into roughly 0.7-1.0, so the useful range is narrow; the value is the dev-split choice of
# benchmarks/bench_kb.py (balanced accuracy of answer/abstain over answerable queries and queries whose
# answer was removed from the index).
DEFAULT_MIN_SCORE = 0.93


@dataclass(frozen=True)
class Hit:
    """A retrieved passage: ``score`` is the fused score that ranked it (its scale depends on the fusion
    method), ``bm25_score`` its raw BM25 score and ``dense_score`` its cosine similarity to the query."""

    passage: Passage
    score: float
    bm25_score: float
    dense_score: float


class KnowledgeBase:
    """Hybrid (BM25 + dense) retrieval over passages; build with :meth:`build` or :meth:`from_folder`."""

    def __init__(
        self,
        passages: list[Passage],
        bm25: BM25,
        dense: DenseIndex,
        embedder: Embedder,
        fusion: Fusion = DEFAULT_FUSION,
        fingerprint: str | None = None,
        script: str | None = SCRIPT,
    ) -> None:
        if not (len(passages) == bm25.size == dense.size):
            raise ArtifactError(
                f"index size mismatch: {len(passages)} passages, {bm25.size} BM25 rows, {dense.size} vectors"
            )
        self.passages, self.bm25, self.dense, self.embedder, self.fusion = (
            passages,
            bm25,
            dense,
            embedder,
            fusion,
        )
        self.fingerprint = fingerprint or _fingerprint_of(passages, embedder, bm25)
        self.script = script
        self.build_seconds = 0.0

    def _for_embedding(self, text: str) -> str:
        # e5 finds 運費 less similar to 运费 than to itself: both sides in one script (an index saved
        # before kefu folded scripts has script None and is searched as it was built)
        return simplified(text) if self.script == SCRIPT else text

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        embedder: Embedder,
        fusion: Fusion = DEFAULT_FUSION,
        tokenizer: Tokenizer | None = None,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
    ) -> "KnowledgeBase":
        """Index ``passages``: tokenize for BM25 and embed every ``text_for_search``."""
        passages = list(passages)
        if not passages:
            raise DataError("knowledge base: no passages to index")
        start = time.perf_counter()
        texts = [p.text_for_search for p in passages]
        bm25 = BM25.fit(texts, k1=k1, b=b, tokenizer=tokenizer)
        dense = DenseIndex(normalize_rows(embedder.embed_passages([simplified(t) for t in texts])))
        kb = cls(passages, bm25, dense, embedder, fusion, script=SCRIPT)
        kb.build_seconds = time.perf_counter() - start
        return kb

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        embedder: Embedder,
        index_dir: str | Path | None = None,
        fusion: Fusion = DEFAULT_FUSION,
        tokenizer: Tokenizer | None = None,
    ) -> "KnowledgeBase":
        """Read a knowledge folder; reuse the index in ``index_dir`` if it was built from the same passages
        and settings, else build one (and save it there). ``index_dir`` defaults to ``folder/.index``."""
        passages = load_folder(folder)
        index_dir = Path(index_dir) if index_dir is not None else Path(folder) / ".index"
        wanted = compute_fingerprint(passages, embedder.name, tokenizer or Tokenizer())
        if stored_fingerprint(index_dir) == wanted:
            try:
                return cls.load(index_dir, embedder, fusion=fusion)
            except ArtifactError:
                pass  # a damaged index is rebuilt like a stale one
        kb = cls.build(passages, embedder, fusion=fusion, tokenizer=tokenizer)
        kb.save(index_dir)
        return kb

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The ``k`` best passages for ``query``, best first. Passages with the same answer text (an FAQ
        answer shared by several questions) are returned once, at the best rank any of them reached."""
        if not query.strip() or k <= 0:
            return []
        bm25 = self.bm25.scores(query)
        dense = self.dense.scores(self.embedder.embed_queries([self._for_embedding(query)])[0])
        hits: list[Hit] = []
        seen: set[str] = set()
        # ask for more than k so that k remain after dropping repeated answers
        for index, score in fuse(bm25, dense, self.fusion, min(len(self.passages), 4 * k)):
            passage = self.passages[index]
            if passage.answer in seen:
                continue
            seen.add(passage.answer)
            hits.append(Hit(passage, score, float(bm25[index]), float(dense[index])))
            if len(hits) == k:
                break
        return hits

    def answer(self, query: str, min_score: float = DEFAULT_MIN_SCORE) -> Hit | None:
        """The best hit if the knowledge base is confident about it, else None.

        Confident means the hit's dense score (cosine similarity between query and passage) is at least
        ``min_score``. The fused score cannot serve: softmax, min-max and RRF scores are relative to the
        other candidates, so the best of a bad lot scores as high as a perfect match.
        """
        hits = self.search(query, k=ANSWER_CANDIDATES)
        # BM25 brings candidates in, the similarity to the question decides: a shared word ("包装" in
        # "内衣拆了包装还能退吗" and the gift-wrapping answer) must not outrank the passage that answers it
        best = max(hits, key=lambda hit: hit.dense_score, default=None)
        if best is not None and best.dense_score >= min_score:
            return best
        return None

    def save(self, directory: str | Path) -> Path:
        """Write the index to ``directory`` (replacing an index there, atomically); returns the path."""
        directory = Path(directory)
        if directory.exists() and not (directory / META_FILE).exists() and any(directory.iterdir()):
            raise ArtifactError(
                f"{directory}: not empty and not a kefu knowledge index; refusing to overwrite"
            )
        bm25_meta, arrays = self.bm25.state()
        meta = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "embedder": self.embedder.name,
            "fusion": self.fusion.to_dict(),
            "bm25": bm25_meta,
            "passages": [asdict(p) for p in self.passages],
            "script": self.script,
        }
        arrays = {"embeddings": self.dense.vectors, **arrays}
        directory.parent.mkdir(parents=True, exist_ok=True)
        # write next to the target, then swap, so a crash never leaves half an index behind
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            (staging / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(staging / ARRAYS_FILE))
            if directory.exists():
                old = directory.with_name(f".{directory.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(directory, old)
                os.replace(staging, directory)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return directory

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder, fusion: Fusion | None = None) -> "KnowledgeBase":
        """Read an index written by :meth:`save`; ``embedder`` must be the model it was built with.
        ``fusion`` overrides the saved fusion settings."""
        directory = Path(directory)
        meta = _read_meta(directory)
        if meta["embedder"] != embedder.name:
            raise ArtifactError(
                f"{directory}: index was built with embedder {meta['embedder']!r}, not {embedder.name!r}; rebuild it"
            )
        try:
            arrays = load_file(str(directory / ARRAYS_FILE))
            passages = [Passage(**p) for p in meta["passages"]]
            bm25 = BM25.from_state(meta["bm25"], arrays)
            kb = cls(
                passages,
                bm25,
                DenseIndex(arrays["embeddings"]),
                embedder,
                fusion or Fusion(**meta["fusion"]),
                fingerprint=meta["fingerprint"],
                script=meta.get("script"),
            )
        except ArtifactError:
            raise
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise ArtifactError(
                f"{directory}: damaged knowledge index ({type(error).__name__}: {error})"
            ) from None
        if _fingerprint_of(passages, embedder, bm25) != kb.fingerprint:
            raise ArtifactError(f"{directory}: knowledge index does not match its fingerprint; rebuild it")
        return kb


def compute_fingerprint(
    passages: Sequence[Passage],
    embedder_name: str,
    tokenizer: Tokenizer,
    k1: float = DEFAULT_K1,
    b: float = DEFAULT_B,
) -> str:
    """SHA-256 over the passages and every setting that changes the index (not the fusion: that is
    applied at query time, so changing it needs no rebuild)."""
    digest = hashlib.sha256()
    settings = {"format": FORMAT, "embedder": embedder_name, "k1": k1, "b": b, "tokenizer": asdict(tokenizer)}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for passage in passages:
        digest.update(json.dumps(asdict(passage), ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _fingerprint_of(passages: Sequence[Passage], embedder: Embedder, bm25: BM25) -> str:
    return compute_fingerprint(passages, embedder.name, bm25.tokenizer, bm25.k1, bm25.b)


def stored_fingerprint(directory: str | Path) -> str | None:
    """The fingerprint of the index saved in ``directory``, or None if there is none (or it is unreadable)."""
    try:
        return _read_meta(Path(directory)).get("fingerprint")
    except ArtifactError:
        return None


def _read_meta(directory: Path) -> dict[str, Any]:
    path = directory / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{directory}: no knowledge index here (missing {META_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: unreadable ({error})") from None
    found = meta.get("format") if isinstance(meta, dict) else None
    if found != FORMAT:
        raise ArtifactError(f"{path}: unsupported knowledge index format {found!r} (expected {FORMAT!r})")
    return meta
