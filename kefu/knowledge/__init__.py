"""Knowledge base: FAQ and document passages, searched with BM25 and e5 embeddings together."""

from kefu.knowledge.base import DEFAULT_MIN_SCORE, Hit, KnowledgeBase, compute_fingerprint, stored_fingerprint
from kefu.knowledge.bm25 import BM25, Tokenizer
from kefu.knowledge.dense import DenseIndex, E5Embedder, Embedder
from kefu.knowledge.documents import Passage, load_folder, read_document, read_faq
from kefu.knowledge.hybrid import DEFAULT_FUSION, Fusion, fuse

__all__ = [
    "BM25",
    "DEFAULT_FUSION",
    "DEFAULT_MIN_SCORE",
    "DenseIndex",
    "E5Embedder",
    "Embedder",
    "Fusion",
    "Hit",
    "KnowledgeBase",
    "Passage",
    "Tokenizer",
    "compute_fingerprint",
    "fuse",
    "load_folder",
    "read_document",
    "read_faq",
    "stored_fingerprint",
]
