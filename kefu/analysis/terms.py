"""The words and phrases that set one group of texts apart from the rest (a topic, a cluster).

A term scores ``p * ln(p / q)`` in a group, where ``p`` is the share of the group's texts that contain it
and ``q`` the share of all texts: its contribution to how far the group's vocabulary is from everyone's.
Frequent everywhere ("the", "的", "please") gives p ≈ q and a score near zero, rare everywhere gives a
small p; what is common in the group and rare elsewhere wins. Terms are jieba words for Chinese and
letter/digit words for other scripts, plus pairs of adjacent words, so "credit card" and "退款 申请" can
name a group as well as single words.

Counting is streaming and bounded: past ``max_terms`` distinct terms, the rarest are dropped (lossy
counting), so a file of any length is described in the same memory.
"""

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from math import log

from kefu.knowledge.bm25 import Tokenizer

# Function words that jieba keeps as words of two or more characters; single characters are dropped
# anyway (below), which takes 的/了/是/我 with them.
_CHINESE_STOP_WORDS = frozenset(
    {
        "我们", "你们", "他们", "什么", "怎么", "怎么样", "为什么", "如何", "一个", "一下", "没有", "可以", "这个",
        "那个", "这样", "已经", "还是", "就是", "但是", "因为", "所以", "如果", "而且", "或者", "自己", "现在",
        "时候", "还有", "不是", "知道", "需要", "请问", "谢谢", "您好", "你好",
    }
)  # fmt: skip
_LATIN_NOISE = re.compile(r"\d+|[a-z]")  # bare numbers and single letters name nothing


@dataclass(frozen=True)
class Term:
    text: str
    score: float
    count: int  # texts of the group that contain it

    def to_dict(self) -> dict:
        return {"term": self.text, "score": round(self.score, 5), "count": self.count}


_TOKENIZE = Tokenizer(cjk="words", stop_words=True)


def words(text: str) -> list[str]:
    """The content words of ``text``, in order (jieba words for Chinese, lower-cased words otherwise)."""
    return [
        w
        for w in _TOKENIZE(text)
        if len(w) > 1 and w not in _CHINESE_STOP_WORDS and not _LATIN_NOISE.fullmatch(w)
    ]


def _terms(text: str) -> set[str]:
    ws = words(text)
    return set(ws) | {f"{a} {b}" for a, b in pairwise(ws)}


def _shown(term: str) -> str:
    """A phrase as people write it: "credit card", but "退款申请" (Chinese puts no space between words)."""
    a, _, b = term.partition(" ")
    return term if not b or a.isascii() or b.isascii() else a + b


class TermCounter:
    """Per-group document frequencies of terms, fed one text at a time."""

    def __init__(self, max_terms: int = 200_000) -> None:
        self.max_terms = max_terms
        self.texts: Counter[str] = Counter()  # texts per group
        self.total: Counter[str] = Counter()  # texts containing each term, all groups
        self.by_group: dict[str, Counter[str]] = {}
        self._floor = 0  # terms seen fewer times than this may have been forgotten

    def add(self, group: str, text: str) -> None:
        terms = _terms(text)
        self.texts[group] += 1
        self.total.update(terms)
        self.by_group.setdefault(group, Counter()).update(terms)
        if len(self.total) > self.max_terms:
            self._forget_rare()

    def _forget_rare(self) -> None:
        while len(self.total) > self.max_terms // 2:
            self._floor += 1
            rare = [t for t, n in self.total.items() if n < self._floor]
            for t in rare:
                del self.total[t]
            for counts in self.by_group.values():
                for t in rare:
                    counts.pop(t, None)

    def top(self, n: int = 10, min_count: int = 2) -> dict[str, list[Term]]:
        """The ``n`` most characteristic terms of every group, best first; a term must occur in at least
        ``min_count`` texts of the group, and a word already inside a better-scored phrase is skipped."""
        everyone = sum(self.texts.values())
        result: dict[str, list[Term]] = {}
        for group, counts in self.by_group.items():
            size = self.texts[group]
            scored = []
            for term, k in counts.items():
                p, q = k / size, self.total[term] / everyone
                if k >= min_count and p > q:
                    scored.append(Term(term, p * log(p / q), k))
            scored.sort(key=lambda t: (-t.score, t.text))
            result[group] = _without_repeats(scored, n)
        return result


def _without_repeats(scored: list[Term], n: int) -> list[Term]:
    chosen: list[Term] = []
    seen_words: set[str] = set()
    for term in scored:
        if len(chosen) == n:
            break
        ws = set(term.text.split(" "))
        if not ws & seen_words:
            chosen.append(term)
            seen_words |= ws
    return [Term(_shown(t.text), t.score, t.count) for t in chosen]

