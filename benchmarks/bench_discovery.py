"""Intent discovery benchmark: how well ``kefu discover`` recovers intents it is not told, English and Chinese.

Each set's texts are clustered with their labels hidden; the clusters are scored against the labels with
the adjusted Rand index (ARI, pairs of texts put together or apart as the labels do, 0 = chance) and the
normalised mutual information (NMI, arithmetic mean; how much the clusters tell about the labels):

* BANKING77 test (3,080 English banking requests, 77 intents), read from ../shared/data;
* CAIS test (1,012 Chinese smart-speaker requests, 14 intents, 86% of them PlayMusic).

Systems, in one run, every one with every text assigned (``min_size=1``):

* kefu discover, k = the true number of intents: e5 embeddings, centred, Ward (kefu.analysis.discover);
* kefu discover, automatic k (BIC over the Ward tree's cuts): the k it chose is reported;
* TF-IDF + k-means, same k and seed: word 1-2-grams for English, character 1-3-grams for Chinese
  (sublinear tf, l2 rows), the usual baseline for short-text clustering.

``--compare`` adds the clustering variants weighed in choosing kefu's (k-means, Ward on raw e5 vectors,
average linkage over cosine distance), and ``--split dev`` scores everything on
sets not used for the reported figures (3,000 BANKING77 training texts, seed 0; CAIS validation), which
is where the choices in kefu/analysis/discover.py were made.

Run: .venv/bin/python benchmarks/bench_discovery.py   (writes benchmarks/results/discovery.json)
     --cache DIR keeps embeddings between runs (for development; embedding times then mean little).
"""

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets

from kefu.analysis.discover import SEED, centred, find_clusters
from kefu.knowledge import E5Embedder
from kefu.knowledge.dense import normalize_rows

RESULTS = Path(__file__).resolve().parent / "results" / "discovery.json"
N_INIT = 10  # k-means restarts (k-means++ each), for the baseline and the k-means variants
DEV_BANKING_TEXTS = 3000
console = Console(stderr=True)


class CachedEmbedder:
    """Embeds each text once per run (the systems share the vectors); with a folder, across runs too."""

    def __init__(self, inner: E5Embedder, folder: Path | None = None) -> None:
        self.inner, self.name, self.folder = inner, inner.name, folder
        self.memory: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        if folder and (folder / "query.json").exists() and (folder / "query.npy").exists():
            texts = json.loads((folder / "query.json").read_text(encoding="utf-8"))
            self.memory = dict(zip(texts, np.load(folder / "query.npy"), strict=True))

    def embed_queries(self, texts):
        texts = list(texts)
        missing = list(dict.fromkeys(t for t in texts if t not in self.memory))
        if missing:
            start = time.perf_counter()
            self.memory.update(zip(missing, self.inner.embed_queries(missing), strict=True))
            self.seconds += time.perf_counter() - start
        return normalize_rows(np.stack([self.memory[t] for t in texts])) if texts else np.zeros((0, 384))

    def embed_passages(self, texts):
        raise NotImplementedError

    def save(self) -> None:
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)
            keys = list(self.memory)
            (self.folder / "query.json").write_text(json.dumps(keys, ensure_ascii=False), encoding="utf-8")
            np.save(self.folder / "query.npy", np.stack([self.memory[t] for t in keys]))


def load_sets(split: str) -> list[tuple[str, str, list[str], list[str]]]:
    """(name, language, texts, labels) of each set."""
    if split == "test":
        bank = datasets._csv(datasets.DATA / "banking77" / "test.csv")
        cais = datasets._slots("cais", "test")
    else:
        bank = datasets.sample(datasets._csv(datasets.DATA / "banking77" / "train.csv"), DEV_BANKING_TEXTS)
        cais = datasets._slots("cais", "valid")
    return [
        (f"BANKING77 {split}", "en", [e.text for e in bank], [e.label for e in bank]),
        (f"CAIS {split}", "zh", [e.text for e in cais], [e.label for e in cais]),
    ]


def scores(gold: list[str], labels) -> dict:
    labels = [int(x) for x in labels]
    return {
        "ari": adjusted_rand_score(gold, labels),
        "nmi": normalized_mutual_info_score(gold, labels),
        "clusters": len(set(labels) - {-1}),
    }


def tfidf_kmeans(texts: list[str], language: str, k: int) -> np.ndarray:
    if language == "zh":
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x = vectorizer.fit_transform(texts)
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=SEED).fit_predict(x)


def variants(embedder: CachedEmbedder, texts: list[str], k: int) -> dict:
    """The clustering choices weighed against kefu's, each on every text (duplicates included)."""
    raw = lambda: normalize_rows(embedder.embed_queries(texts))
    cen = lambda: centred(embedder.embed_queries(texts))
    kmeans = lambda x: KMeans(k, n_init=N_INIT, random_state=SEED).fit_predict(x)
    average = lambda x: AgglomerativeClustering(k, linkage="average", metric="cosine").fit_predict(x)
    return {
        "k-means, e5 centred": lambda: kmeans(cen()),
        "k-means, e5 raw": lambda: kmeans(raw()),
        "Ward, e5 raw": lambda: AgglomerativeClustering(k, linkage="ward").fit_predict(raw()),
        "average-cosine, e5 centred": lambda: average(cen()),
        "average-cosine, e5 raw": lambda: average(raw()),
    }


def run_set(name, language, texts, gold, embedder: CachedEmbedder, compare: bool) -> list[dict]:
    k = len(set(gold))
    base = {"set": name, "texts": len(texts), "intents": k}
    rows = []

    embedded_before = embedder.seconds
    start = time.perf_counter()
    found = find_clusters(texts, embedder, k, min_size=1)
    total = time.perf_counter() - start
    embed = embedder.seconds - embedded_before
    rows.append(
        base
        | {
            "system": "kefu discover (e5, k given)",
            "k": found.n_clusters,
            "embed_seconds": embed,
            "cluster_seconds": total - embed,
            "seconds": total,
        }
        | scores(gold, found.labels)
    )

    start = time.perf_counter()
    auto = find_clusters(texts, embedder, None, min_size=1)
    seconds = time.perf_counter() - start  # the vectors are cached: clustering and choosing k only
    best = sorted(auto.bic, key=lambda q: -auto.bic[q])[:5]
    rows.append(
        base
        | {
            "system": "kefu discover (e5, automatic k)",
            "k": auto.n_clusters,
            "embed_seconds": embed,
            "cluster_seconds": seconds,
            "seconds": embed + seconds,
            "bic_best_k": best,
        }
        | scores(gold, auto.labels)
    )

    start = time.perf_counter()
    labels = tfidf_kmeans(texts, language, k)
    seconds = time.perf_counter() - start
    analyser = "char 1-3-grams" if language == "zh" else "word 1-2-grams"
    rows.append(
        base
        | {
            "system": f"TF-IDF ({analyser}) + k-means",
            "k": k,
            "embed_seconds": 0.0,
            "cluster_seconds": seconds,
            "seconds": seconds,
        }
        | scores(gold, labels)
    )

    if compare:
        for label, run in variants(embedder, texts, k).items():
            start = time.perf_counter()
            labels = run()
            seconds = time.perf_counter() - start
            rows.append(
                base
                | {
                    "system": label,
                    "k": k,
                    "embed_seconds": embed,
                    "cluster_seconds": seconds,
                    "seconds": embed + seconds,
                }
                | scores(gold, labels)
            )
    for row in rows:
        console.print(f"{name}: {row['system']}: NMI {row['nmi']:.4f}, ARI {row['ari']:.4f}, k {row['k']}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "dev"), default="test", help="sets to score on")
    parser.add_argument("--compare", action="store_true", help="also score the clustering variants weighed")
    parser.add_argument("--threads", type=int, default=2, help="e5 engine threads")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache folder (development)")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS}; dev: none)")
    args = parser.parse_args()
    random.seed(SEED)

    embedder = CachedEmbedder(E5Embedder(num_threads=args.threads, progress=True), args.cache)
    rows = []
    for name, language, texts, gold in load_sets(args.split):
        rows += run_set(name, language, texts, gold, embedder, args.compare)
        embedder.save()

    cached = " (cached)" if args.cache else ""
    table = Table(
        title=f"intent discovery, labels hidden ({platform.processor() or 'cpu'}, e5 on {args.threads} threads)"
    )
    for col in ("set", "system", "k", "NMI", "ARI", "embed s", "cluster s", "total s"):
        table.add_column(col, justify="left" if col in ("set", "system") else "right")
    for r in rows:
        table.add_row(
            r["set"],
            r["system"],
            str(r["k"]),
            f"{r['nmi']:.4f}",
            f"{r['ari']:.4f}",
            f"{r['embed_seconds']:.1f}{cached}" if r["embed_seconds"] else "-",
            f"{r['cluster_seconds']:.1f}",
            f"{r['seconds']:.1f}",
        )
    Console(width=150).print(table)
    for name in dict.fromkeys(r["set"] for r in rows):
        kefu, baseline = (
            next(r for r in rows if r["set"] == name and r["system"].startswith(s))
            for s in ("kefu discover (e5, k given)", "TF-IDF")
        )
        print(f"{name}: kefu NMI - TF-IDF k-means NMI = {kefu['nmi'] - baseline['nmi']:+.4f}")

    result = {
        "settings": {
            "split": args.split,
            "seed": SEED,
            "n_init": N_INIT,
            "threads": args.threads,
            "embedder": embedder.name,
            "cached_embeddings": args.cache is not None,
            "min_size": 1,
        },
        "results": rows,
    }
    out = args.out or (RESULTS if args.split == "test" else None)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"results written to {out}")


if __name__ == "__main__":
    main()
