import numpy as np

from kefu.runtime.embedders import LockedEmbedder
from tests.support.project import WordEmbedder


class Counting(WordEmbedder):
    def __init__(self):
        self.queries: list[list[str]] = []

    def embed_queries(self, texts):
        self.queries.append(list(texts))
        return super().embed_queries(texts)


def test_a_repeated_query_is_embedded_once_and_gets_the_same_vector():
    inner = Counting()
    embedder = LockedEmbedder(inner, cache_size=2)
    first = embedder.embed_queries(["运费怎么算"])
    again = embedder.embed_queries(["运费怎么算"])
    assert inner.queries == [["运费怎么算"]]
    np.testing.assert_array_equal(again, WordEmbedder().embed_queries(["运费怎么算"]))
    assert again is first and not again.flags.writeable  # shared, so nobody may change it

    embedder.embed_queries(["hello"])
    embedder.embed_queries(["运费怎么算"])  # the most recently used stays
    embedder.embed_queries(["thanks"])  # pushes out "hello"
    embedder.embed_queries(["运费怎么算"])
    embedder.embed_queries(["hello"])
    assert inner.queries == [["运费怎么算"], ["hello"], ["thanks"], ["hello"]]


def test_batches_are_not_cached():
    inner = Counting()
    embedder = LockedEmbedder(inner)
    embedder.embed_queries(["a b", "c d"])
    embedder.embed_queries(["a b", "c d"])
    assert inner.queries == [["a b", "c d"]] * 2
