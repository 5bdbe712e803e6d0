"""Knowledge-base retrieval benchmark: BM25-only, dense-only (e5) and hybrid, in English and Chinese.

Sets (read in place from ../shared/data):

* bank_faqs: the 1440 distinct answers are the passages (answer text only: indexing the question would
  make the task trivial, since the questions are the queries); each distinct question is a query, and
  any of its answers counts as correct.
* lcqmc: positive pairs (label 1) of the test split, 3000 sampled (seed 0); the distinct second sentences
  are the passages and each distinct first sentence is a query whose partner(s) count as correct.

Queries are split 20% dev / 80% test (seed 0). Everything chosen (tokenizer options, fusion method and
weights, BM25's k1 and b, the answer threshold) is chosen on dev; the reported metrics are on test only.

Run: .venv/bin/python benchmarks/bench_kb.py   (writes benchmarks/results/kb.json)
     --cache DIR keeps embeddings between runs (for development; build times then mean little).
     --ceiling adds bank_faqs with each answer's questions indexed too (every query is then in the index).
"""

import argparse
import csv
import json
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets
from common import p50_ms

from kefu.knowledge import (
    BM25,
    DEFAULT_FUSION,
    DEFAULT_MIN_SCORE,
    E5Embedder,
    Fusion,
    KnowledgeBase,
    Passage,
    Tokenizer,
    fuse,
)
from kefu.knowledge.bm25 import DEFAULT_B, DEFAULT_K1
from kefu.knowledge.dense import normalize_rows

RESULTS = Path(__file__).resolve().parent / "results" / "kb.json"
DEV_FRACTION, SEED = 0.2, 0
LATENCY_SAMPLES = 200
MRR_DEPTH = 10
console = Console(stderr=True)


@dataclass
class Task:
    name: str
    setup: str
    passages: list[Passage]
    queries: list[str]
    gold: list[set[int]]  # passage indices that answer each query
    dev: list[int]  # query indices
    test: list[int]


def split(n: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(SEED).shuffle(order)
    cut = round(n * DEV_FRACTION)
    return sorted(order[:cut]), sorted(order[cut:])


def bank_task(search_text: str = "answer") -> Task:
    """``answer``: index answers only (the honest setup). ``question+answer``: also index each answer's
    questions, so every query is in the index verbatim: a ceiling, not a result."""
    with (datasets.DATA / "bank_faqs" / "BankFAQs.csv").open(encoding="utf-8") as f:
        rows = [(r["Question"].strip(), r["Answer"].strip()) for r in csv.DictReader(f)]
    answers = sorted({a for _, a in rows})
    answer_index = {a: i for i, a in enumerate(answers)}
    # a question repeated (up to case and spacing) is one query, written as it first appears
    by_question: dict[str, set[int]] = defaultdict(set)
    written: dict[str, str] = {}
    questions_of: dict[int, list[str]] = defaultdict(list)
    for q, a in rows:
        key = " ".join(q.lower().split())
        written.setdefault(key, q)
        if answer_index[a] not in by_question[key]:
            questions_of[answer_index[a]].append(q)
        by_question[key].add(answer_index[a])
    passages = []
    for i, a in enumerate(answers):
        text = a if search_text == "answer" else "\n".join([*dict.fromkeys(questions_of[i]), a])
        passages.append(Passage(f"a{i}", text, a, f"BankFAQs.csv#{i}"))
    keys = sorted(by_question)
    queries = [written[k] for k in keys]
    dev, test = split(len(queries))
    return Task("bank_faqs", search_text, passages, queries, [by_question[k] for k in keys], dev, test)


def lcqmc_task(max_pairs: int) -> Task:
    pairs = []
    with (datasets.DATA / "lcqmc" / "test.txt").open(encoding="utf-8") as f:
        for line in f:
            s1, s2, label = line.rstrip("\n").split("\t")
            if label == "1" and s1.strip() != s2.strip():
                pairs.append((s1.strip(), s2.strip()))
    pairs = random.Random(SEED).sample(pairs, min(max_pairs, len(pairs)))
    sides = sorted({s2 for _, s2 in pairs})
    index = {s: i for i, s in enumerate(sides)}
    gold: dict[str, set[int]] = defaultdict(set)
    for s1, s2 in pairs:
        gold[s1].add(index[s2])
    passages = [Passage(f"s{i}", s, s, f"lcqmc/test.txt#{i}") for i, s in enumerate(sides)]
    queries = sorted(gold)
    dev, test = split(len(queries))
    return Task("lcqmc", "sentence2", passages, queries, [gold[q] for q in queries], dev, test)


class CachedEmbedder:
    """Remembers every vector it made, so that scoring one query several ways embeds it once; with a
    folder, also across runs (development only: the reported build time then excludes embedding)."""

    def __init__(self, inner: E5Embedder, folder: Path | None = None) -> None:
        self.inner, self.name, self.folder = inner, inner.name, folder
        self.memory: dict[tuple[str, str], np.ndarray] = {}
        for kind in ("query", "passage") if folder else ():
            if (folder / f"{kind}.json").exists() and (folder / f"{kind}.npy").exists():
                texts = json.loads((folder / f"{kind}.json").read_text(encoding="utf-8"))
                vectors = np.load(folder / f"{kind}.npy")
                self.memory.update({(kind, t): v for t, v in zip(texts, vectors, strict=True)})

    def embed_queries(self, texts):
        return self._get("query", list(texts), self.inner.embed_queries)

    def embed_passages(self, texts):
        return self._get("passage", list(texts), self.inner.embed_passages)

    def _get(self, kind: str, texts: list[str], embed) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if (kind, t) not in self.memory))
        if missing:
            self.memory.update({(kind, t): v for t, v in zip(missing, embed(missing), strict=True)})
        return (
            normalize_rows(np.stack([self.memory[kind, t] for t in texts])) if texts else np.zeros((0, 384))
        )

    def save(self) -> None:
        if not self.folder:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for kind in ("query", "passage"):
            keys = [t for k, t in self.memory if k == kind]
            if not keys:
                continue
            (self.folder / f"{kind}.json").write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")
            np.save(self.folder / f"{kind}.npy", np.stack([self.memory[kind, t] for t in keys]))


# ---- metrics ---------------------------------------------------------------------------------------


def metrics(ranked: list[list[int]], gold: list[set[int]]) -> dict[str, float]:
    """recall@k here is success@k (any correct passage in the top k; most queries have one); MRR@10."""
    r1 = r5 = rr = 0.0
    for ranks, good in zip(ranked, gold, strict=True):
        first = next((i for i, p in enumerate(ranks[:MRR_DEPTH]) if p in good), None)
        if first is not None:
            r1 += first == 0
            r5 += first < 5
            rr += 1 / (first + 1)
    n = max(len(gold), 1)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": rr / n}


def score_arrays(kb: KnowledgeBase, bm25: BM25, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """BM25 and dense score of every passage for every query (rows = queries)."""
    vectors = kb.embedder.embed_queries(queries)
    return np.stack([bm25.scores(q) for q in queries]), vectors @ kb.dense.vectors.T


def fused_metrics(bm25: np.ndarray, dense: np.ndarray, gold: list[set[int]], fusion: Fusion) -> dict:
    ranked = [[i for i, _ in fuse(b, d, fusion, MRR_DEPTH)] for b, d in zip(bm25, dense, strict=True)]
    return metrics(ranked, gold)


ALPHAS = [a / 20 for a in range(1, 20)]
FUSION_GRID = [
    Fusion(m, alpha=a, depth=d) for m in ("softmax", "convex") for a in ALPHAS for d in (20, 50, 100)
] + [
    Fusion("rrf", alpha=a / 10, rrf_k=k, depth=d)
    for a in range(2, 9)
    for k in (1, 5, 10, 30, 60)
    for d in (50, 100)
]
TOKENIZERS = [Tokenizer(c, s, st) for c in ("search", "words") for s in (True, False) for st in (True, False)]
# BM25 settings: the textbook ones while tokenizer and fusion are chosen (so the choice does not depend on
# the library defaults it sets), then a grid searched together with alpha.
REFERENCE_BM25 = {"k1": 1.5, "b": 0.75}
BM25_GRID = [{"k1": k1, "b": b} for k1 in (0.9, 1.2, 1.5, 2.0) for b in (0.5, 0.75, 0.9, 1.0)]


def tune(tasks: list[Task], kbs: list[KnowledgeBase]) -> dict:
    """Choose tokenizer, then fusion, then BM25's k1 and b with alpha, then answer threshold, on the dev
    queries of all sets together (one default for every knowledge base: mean dev recall@1 over the sets,
    MRR breaks ties)."""
    out: dict = {"tokenizers": [], "fusions": [], "bm25_params": []}
    dense_dev, gold_dev = [], []
    for task, kb in zip(tasks, kbs, strict=True):
        queries = [task.queries[i] for i in task.dev]
        dense_dev.append(kb.embedder.embed_queries(queries) @ kb.dense.vectors.T)
        gold_dev.append([task.gold[i] for i in task.dev])

    def bm25_scores(tok: Tokenizer, params: dict) -> list[np.ndarray]:
        """Dev BM25 scores of each set (rows = dev queries)."""
        scores = []
        for task in tasks:
            bm25 = BM25.fit([p.text_for_search for p in task.passages], tokenizer=tok, **params)
            scores.append(np.stack([bm25.scores(task.queries[i]) for i in task.dev]))
        return scores

    def rate(bm25_dev: list[np.ndarray], fusion: Fusion) -> dict:
        per_set = [
            fused_metrics(b, d, g, fusion) for b, d, g in zip(bm25_dev, dense_dev, gold_dev, strict=True)
        ]
        return {**_named(tasks, per_set), "mean": _mean_of(per_set)}

    bm25_dev = {}
    for tok in TOKENIZERS:
        bm25_dev[tok] = bm25_scores(tok, REFERENCE_BM25)
        out["tokenizers"].append({"tokenizer": asdict(tok), **rate(bm25_dev[tok], Fusion("bm25"))})
    best_tok = max(
        TOKENIZERS, key=lambda t: next(r["mean"] for r in out["tokenizers"] if r["tokenizer"] == asdict(t))
    )
    out["chosen_tokenizer"] = asdict(best_tok)

    for fusion in FUSION_GRID:
        out["fusions"].append({"fusion": fusion.to_dict(), **rate(bm25_dev[best_tok], fusion)})
    for method in ("softmax", "convex", "rrf"):
        rows = [r for r in out["fusions"] if r["fusion"]["method"] == method]
        out[f"best_{method}"] = max(rows, key=lambda r: r["mean"])
    fusion = Fusion(**max(out["fusions"], key=lambda r: r["mean"])["fusion"])

    # k1 and b reshape BM25's scores, which the fusion weighs against dense's: alpha is chosen again
    best = None
    for params in BM25_GRID:
        scores = bm25_scores(best_tok, params)
        for alpha in ALPHAS:
            candidate = replace(fusion, alpha=alpha)
            row = {"bm25": params, "fusion": candidate.to_dict(), **rate(scores, candidate)}
            out["bm25_params"].append(row)
            if best is None or row["mean"] > best[0]["mean"]:
                best = row, scores
    row, final_bm25 = best
    out["chosen_bm25"], out["chosen_fusion"] = row["bm25"], row["fusion"]
    out["dev_single"] = {method: rate(final_bm25, Fusion(method)) for method in ("bm25", "dense")}
    out["answer_threshold"] = tune_threshold(tasks, final_bm25, dense_dev, gold_dev, Fusion(**row["fusion"]))
    return out


def _mean_of(per_set: list[dict]) -> tuple[float, float]:
    return (
        statistics.mean(m["recall@1"] for m in per_set),
        statistics.mean(m["mrr@10"] for m in per_set),
    )


def _named(tasks: list[Task], per_set: list[dict]) -> dict:
    return {task.name: m for task, m in zip(tasks, per_set, strict=True)}


def top_dense(bm25: np.ndarray, dense: np.ndarray, fusion: Fusion, drop: set[int]) -> tuple[int, float]:
    """Top fused passage and its dense score, with the passages in ``drop`` taken out of the index."""
    if drop:
        bm25, dense = bm25.copy(), dense.copy()
        bm25[list(drop)], dense[list(drop)] = 0.0, -1.0
    index, _ = fuse(bm25, dense, fusion, 1)[0]
    return index, float(dense[index])


def threshold_outcomes(bm25s, denses, golds, fusion) -> list[tuple[float, bool, float]]:
    """Per query: (top dense score, top is correct) when answerable, and top dense score when its answers
    are removed from the index (so the right reply is to abstain)."""
    rows = []
    for b, d, g in zip(bm25s, denses, golds, strict=True):
        index, score = top_dense(b, d, fusion, set())
        _, unanswerable = top_dense(b, d, fusion, g)
        rows.append((score, index in g, unanswerable))
    return rows


def decision_quality(rows, threshold: float) -> dict[str, float]:
    """answered_correct: answerable queries answered with a right passage; abstained: unanswerable queries
    turned down; balanced = their mean."""
    correct = statistics.mean(s >= threshold and ok for s, ok, _ in rows)
    abstained = statistics.mean(u < threshold for _, _, u in rows)
    return {"answered_correct": correct, "abstained": abstained, "balanced": (correct + abstained) / 2}


def tune_threshold(tasks, bm25s, denses, golds, fusion) -> dict:
    outcomes = [threshold_outcomes(b, d, g, fusion) for b, d, g in zip(bm25s, denses, golds, strict=True)]
    grid = [round(0.70 + 0.005 * i, 3) for i in range(57)]
    per_set = {
        task.name: max(grid, key=lambda t, rows=rows: decision_quality(rows, t)["balanced"])
        for task, rows in zip(tasks, outcomes, strict=True)
    }
    pooled = max(grid, key=lambda t: statistics.mean(decision_quality(r, t)["balanced"] for r in outcomes))
    return {"best_per_set": per_set, "chosen": pooled}


# ---- evaluation on test ----------------------------------------------------------------------------


def evaluate(task: Task, kb: KnowledgeBase, fusion: Fusion, min_score: float, latency_embedder: E5Embedder):
    queries = [task.queries[i] for i in task.test]
    gold = [task.gold[i] for i in task.test]
    kb.embedder.embed_queries(queries)  # one batched call fills the cache that the searches below read
    sample = random.Random(SEED).sample(queries, min(LATENCY_SAMPLES, len(queries)))
    ids = {p.id: i for i, p in enumerate(task.passages)}
    rows, top1 = [], {}
    for label, method_fusion in (("BM25", Fusion("bm25")), ("dense", Fusion("dense")), ("hybrid", fusion)):
        kb.fusion = method_fusion
        ranked = [[ids[h.passage.id] for h in kb.search(q, MRR_DEPTH)] for q in queries]
        top1[label] = np.array([bool(r) and r[0] in g for r, g in zip(ranked, gold, strict=True)])
        row = {"set": task.name, "setup": task.setup, "method": label, "fusion": method_fusion.to_dict()}
        row |= metrics(ranked, gold)
        # retrieval alone (query vector cached) and end to end (embedding the query on 2 threads)
        row["search_ms_p50_cached_vector"] = p50_ms(lambda q: kb.search(q, 5), sample)
        rows.append(row)
    kb.fusion = fusion
    live = replace_embedder(kb, latency_embedder)
    rows[-1]["search_ms_p50_end_to_end"] = p50_ms(lambda q: live.search(q, 5), sample[:100])
    for other in ("BM25", "dense"):
        rows[-1][f"recall@1_gain_over_{other}_ci95"] = paired_bootstrap(top1["hybrid"], top1[other])
    b, d = score_arrays(kb, kb.bm25, queries)
    answer = decision_quality(threshold_outcomes(b, d, gold, fusion), min_score)
    return rows, answer


def paired_bootstrap(a: np.ndarray, b: np.ndarray, rounds: int = 2000) -> list[float]:
    """Recall@1 of ``a`` minus that of ``b`` (per-query 0/1 outcomes, same queries): the difference and a
    95% interval from resampling queries, to tell a gain from split noise."""
    rng = np.random.default_rng(SEED)
    diff = a.astype(np.float64) - b.astype(np.float64)
    samples = diff[rng.integers(0, len(diff), size=(rounds, len(diff)))].mean(axis=1)
    return [float(diff.mean()), float(np.quantile(samples, 0.025)), float(np.quantile(samples, 0.975))]


def replace_embedder(kb: KnowledgeBase, embedder) -> KnowledgeBase:
    return KnowledgeBase(kb.passages, kb.bm25, kb.dense, embedder, kb.fusion, kb.fingerprint)


def bm25_scale_check() -> dict:
    """BM25 query time over about 10k Chinese + English passages (no embedding needed)."""
    texts = []
    for name in ("dev.txt", "test.txt"):
        with (datasets.DATA / "lcqmc" / name).open(encoding="utf-8") as f:
            texts += [s for line in f for s in line.split("\t")[:2]]
    texts = sorted(set(texts))
    random.Random(SEED).shuffle(texts)
    with (datasets.DATA / "bank_faqs" / "BankFAQs.csv").open(encoding="utf-8") as f:
        english = sorted({r["Answer"] for r in csv.DictReader(f)})
    corpus = english + texts[: 10_000 - len(english)]
    start = time.perf_counter()
    bm25 = BM25.fit(corpus)
    fit_s = time.perf_counter() - start
    queries = texts[10_000:10_200] + [q for q in english[:50]]
    return {"passages": len(corpus), "fit_seconds": fit_s, "query_ms_p50": p50_ms(bm25.search, queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000, help="LCQMC positive pairs to sample")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (development)")
    parser.add_argument("--dev-only", action="store_true", help="stop after the dev choices (development)")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also run bank_faqs with the questions indexed (trivial ceiling)",
    )
    args = parser.parse_args()

    embedder = CachedEmbedder(E5Embedder(num_threads=2), args.cache)
    tasks = [bank_task("answer"), lcqmc_task(args.pairs)]
    kbs = []
    for task in tasks:
        kb = KnowledgeBase.build(task.passages, embedder, fusion=DEFAULT_FUSION)
        console.print(
            f"{task.name}: {len(task.passages)} passages, {len(task.queries)} queries "
            f"({len(task.dev)} dev / {len(task.test)} test), built in {kb.build_seconds:.1f} s"
        )
        kbs.append(kb)
        embedder.save()

    choices = tune(tasks, kbs)
    embedder.save()
    fusion = Fusion(**choices["chosen_fusion"])
    tokenizer = Tokenizer(**choices["chosen_tokenizer"])
    bm25_params = choices["chosen_bm25"]
    min_score = choices["answer_threshold"]["chosen"]
    console.print(
        f"dev choices: tokenizer {tokenizer}, BM25 {bm25_params}, fusion {fusion}, min_score {min_score}"
    )
    defaults = (DEFAULT_FUSION, Tokenizer(), {"k1": DEFAULT_K1, "b": DEFAULT_B}, DEFAULT_MIN_SCORE)
    if (fusion, tokenizer, bm25_params, min_score) != defaults:
        console.print(
            "[yellow]note: the dev choices differ from the library defaults; test uses the dev choices"
        )
    if args.dev_only:
        return

    live = E5Embedder(num_threads=2, progress=False)
    rows, answers = [], {}
    if args.ceiling:
        tasks.append(bank_task("question+answer"))
        kbs.append(KnowledgeBase.build(tasks[-1].passages, embedder, fusion=fusion))
        embedder.save()
    for task, kb in zip(tasks, kbs, strict=True):
        if (kb.bm25.tokenizer, kb.bm25.k1, kb.bm25.b) != (tokenizer, bm25_params["k1"], bm25_params["b"]):
            kb = KnowledgeBase.build(
                task.passages, embedder, fusion=fusion, tokenizer=tokenizer, **bm25_params
            )
        task_rows, answers[f"{task.name}/{task.setup}"] = evaluate(task, kb, fusion, min_score, live)
        for row in task_rows:
            row |= {
                "passages": len(task.passages),
                "test_queries": len(task.test),
                "build_seconds": kb.build_seconds,
            }
        rows += task_rows
    embedder.save()
    scale = bm25_scale_check()

    table = Table(
        title=f"kefu knowledge base, test queries ({platform.processor() or 'cpu'}, e5 on 2 threads)"
    )
    for col in [
        "set",
        "indexed",
        "method",
        "R@1 %",
        "R@5 %",
        "MRR@10",
        "build s",
        "search ms p50",
        "e2e ms p50",
    ]:
        table.add_column(col, justify="left" if col in ("set", "indexed", "method") else "right")
    for r in rows:
        e2e = r.get("search_ms_p50_end_to_end")
        table.add_row(
            r["set"],
            r["setup"],
            r["method"],
            f"{100 * r['recall@1']:.2f}",
            f"{100 * r['recall@5']:.2f}",
            f"{r['mrr@10']:.4f}",
            f"{r['build_seconds']:.1f}" + (" (cached)" if args.cache else ""),
            f"{r['search_ms_p50_cached_vector']:.2f}",
            f"{e2e:.1f}" if e2e is not None else "-",
        )
    out = Console(width=140)
    out.print(table)
    for r in rows:
        for other in ("BM25", "dense"):
            if f"recall@1_gain_over_{other}_ci95" in r:
                gain, low, high = (100 * x for x in r[f"recall@1_gain_over_{other}_ci95"])
                out.print(
                    f"{r['set']}/{r['setup']}: hybrid - {other} recall@1 = {gain:+.2f} points "
                    f"(95% paired bootstrap interval {low:+.2f} .. {high:+.2f})"
                )
    out.print(f"fusion (chosen on dev): {fusion}; tokenizer: {tokenizer}; BM25: {bm25_params}")
    out.print(f"answer(min_score={min_score}) on test: {json.dumps(answers, indent=1)}")
    out.print(f"BM25 at scale: {scale}")
    result = {
        "settings": {
            "dev_fraction": DEV_FRACTION,
            "seed": SEED,
            "lcqmc_pairs": args.pairs,
            "threads": 2,
            "embedder": embedder.name,
            "cached_embeddings": args.cache is not None,
        },
        "dev_choices": choices,
        "test": rows,
        "answer_threshold_test": answers,
        "bm25_scale": scale,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
