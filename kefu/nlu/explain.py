"""Why the model chose an intent: a score per word of the message (what `Model.explain` returns).

Two methods, both scoring the words a customer wrote (word pieces merged back into words; [CLS], [SEP] and an
encoder's "query: " prefix are not the customer's and get no score):

* ``ig``, Integrated Gradients (Sundararajan et al., 2017, computed by Captum) of the intent's probability,
  on the straight path from a baseline to the message. The path moves every input the network reads at
  once: each word piece's token embedding, from the [PAD] embedding (the zero vector in the scratch
  encoder, whose padding row is never trained), and each TF-IDF weight of the n-gram branch, from 0. The
  baseline is thus "the same positions, no words" for both branches, and the scores add up to
  P(intent | text) - P(intent | baseline), up to Captum's convergence delta (reported). A word piece's
  score goes to its word; an n-gram's to the words its occurrences were built from, by characters shared.
  The n-gram branch is attributed rather than held fixed because it carries much of the evidence: with it
  fixed, a word's n-grams would keep voting for the intent after the word's own embedding was removed
  (measured as in benchmarks/bench_explain.py: deleting the top 3 words lowered the probability 1.95x as
  much as deleting 3 random words with the n-grams fixed, 2.74x with them attributed). Words past the
  encoder's `max_len` tokens are scored through their n-grams alone.
* ``occlusion``: delete each word from the text and measure the drop in the intent's probability. It needs
  only predictions (one batched forward over n_words + 1 texts), so it also explains a model without
  gradients, such as an exported ONNX graph.

Captum's `IntegratedGradients` runs on embeddings looked up here, rather than `LayerIntegratedGradients`
with hooks on the model's embedding layer: a hook on that shared module would also rewrite the
predictions other server threads make with the model while an explanation runs. The two compute the same.
"""

import bisect
import re
from dataclasses import asdict, dataclass

import torch
from captum.attr import IntegratedGradients

from kefu.errors import ConfigError
from kefu.nlu.network import Batch
from kefu.text.ngrams import WORD

METHODS = ("ig", "occlusion")
# A word: a CJK character, a letter/digit run (as the n-gram features see words), or any other visible
# character on its own ("?", "!"): punctuation can carry intent too.
_WORD_OR_SIGN = re.compile(rf"{WORD.pattern}|\S")


@dataclass
class WordScore:
    token: str  # text[start:end]
    start: int
    end: int
    score: float  # > 0: the word pushes towards the intent; < 0: away from it

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Explanation:
    text: str
    intent: str  # the intent explained: the top-ranked one unless another was asked for
    method: str  # "ig" or "occlusion"
    probability: float  # P(intent | text)
    tokens: list[WordScore]  # the text's words in order
    baseline: float | None = None  # ig: P(intent | baseline); the scores sum to probability - baseline
    delta: float | None = None  # ig: Captum's convergence delta, sum of scores - (probability - baseline)

    def top(self, k: int) -> list[WordScore]:
        """The k words with the highest scores, highest first."""
        return sorted(self.tokens, key=lambda w: -w.score)[:k]

    def to_dict(self) -> dict:
        return asdict(self)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of `text`, in order."""
    return [m.span() for m in _WORD_OR_SIGN.finditer(text)]


def explain(model, text: str, intent: str | None = None, method: str = "ig", n_steps: int = 32) -> Explanation:
    """Per-word scores of `text` for `intent` (default: the model's top-ranked intent) with `method`."""
    if method not in METHODS:
        raise ConfigError(f"unknown explanation method {method!r}; use one of {', '.join(METHODS)}")
    if intent is not None and intent not in model.labels:
        raise ConfigError(f"unknown intent {intent!r}: not one of the model's {len(model.labels)} intents")
    target = model.labels.index(intent) if intent is not None else int(model.predict_proba([text])[0].argmax())
    spans = word_spans(text)
    if method == "occlusion":
        scores, prob, base, delta = _occlusion(model, text, target, spans)
    else:
        scores, prob, base, delta = _integrated_gradients(model, text, target, spans, n_steps)
    words = [WordScore(text[s:e], s, e, round(score, 6)) for (s, e), score in zip(spans, scores, strict=True)]
    base, delta = (None, None) if base is None else (round(base, 6), round(delta, 6))
    return Explanation(text, model.labels[target], method, round(prob, 6), words, base, delta)


def _occlusion(model, text: str, target: int, spans: list[tuple[int, int]]) -> tuple:
    variants = [text] + [text[:s] + text[e:] for s, e in spans]
    probs = model.predict_proba(variants)[:, target].tolist()
    return [probs[0] - p for p in probs[1:]], probs[0], None, None


def _integrated_gradients(model, text: str, target: int, spans: list[tuple[int, int]], n_steps: int) -> tuple:
    net, inputs = model.network, model.inputs
    ids, offsets = inputs.encode([text])
    batch = inputs.batch([text], ids)
    offsets = offsets[0]
    # word pieces of the text become [PAD] in the baseline; special tokens and the prefix stay
    in_text = torch.tensor([end > start for start, end in offsets])
    with torch.no_grad():
        tokens = net.encoder.embed(batch.ids)
        start_tokens = net.encoder.embed(batch.ids.masked_fill(in_text, inputs.pad_id))
    nnz = batch.ngram_idx.numel()  # 0 without an n-gram branch, or when no n-gram of the text is known
    moving = nnz > 0  # Captum cannot interpolate a tensor without elements: an empty one stays as it is
    features = (tokens, batch.ngram_w[None]) if moving else (tokens,)
    baselines = (start_tokens, torch.zeros(1, nnz)) if moving else (start_tokens,)

    def forward(token_vectors: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        n = token_vectors.shape[0]  # Captum's path steps, as one batch
        weights = batch.ngram_w.expand(n, -1) if weights is None else weights
        steps = Batch(
            ids=batch.ids.expand(n, -1),
            keep=batch.keep.expand(n, -1),
            ngram_idx=batch.ngram_idx.repeat(n),
            ngram_off=torch.arange(n) * nnz,
            ngram_w=weights.reshape(-1),
            tokens=token_vectors,
        )
        return net(steps).intent_probs()

    ig = IntegratedGradients(forward)
    attributions, delta = ig.attribute(
        features, baselines=baselines, target=target, n_steps=n_steps, return_convergence_delta=True
    )
    with torch.no_grad():  # the text and the baseline, as one batch of two
        both = forward(*(torch.cat(pair) for pair in zip(features, baselines, strict=True)))
    prob, base = both[:, target].tolist()
    words = _Words(spans)
    for (start, end), score in zip(offsets, attributions[0][0].sum(-1).tolist(), strict=True):
        words.credit([(start, end)], score)
    if moving:
        located = inputs.ngrams.spans(text)
        for index, score in zip(batch.ngram_idx.tolist(), attributions[1][0].tolist(), strict=True):
            words.credit(located[index], score)
    return words.scores, prob, base, float(delta)


class _Words:
    """The words of a text and the score credited to each so far."""

    def __init__(self, spans: list[tuple[int, int]]):
        self.spans = spans
        self.ends = [end for _, end in spans]
        self.scores = [0.0] * len(spans)

    def credit(self, pieces: list[tuple[int, int]], amount: float) -> None:
        """Add `amount` to the words `pieces` (character spans) overlap, in proportion to the characters
        shared; nothing for a piece over no word (special tokens have empty spans)."""
        shared: dict[int, int] = {}
        for start, end in pieces:
            i = bisect.bisect_right(self.ends, start)  # the first word ending after the piece starts
            while i < len(self.spans) and self.spans[i][0] < end:
                shared[i] = shared.get(i, 0) + min(end, self.spans[i][1]) - max(start, self.spans[i][0])
                i += 1
        total = sum(shared.values())
        for i, n in shared.items():
            self.scores[i] += amount * n / total
