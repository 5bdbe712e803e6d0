"""Text handling: normalisation, tokenisation and sparse n-gram features."""

from kefu.text.ngrams import NgramFeaturizer
from kefu.text.normalize import normalize
from kefu.text.tokenizer import load_tokenizer, train_tokenizer

__all__ = ["NgramFeaturizer", "load_tokenizer", "normalize", "train_tokenizer"]
