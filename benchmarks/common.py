"""Measurement helpers shared by the benchmark scripts: latency, sizes and the TF-IDF + SVM baseline."""

import statistics
import time
from pathlib import Path

import datasets
import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC

LATENCY_SAMPLES = 300


def latencies_ms(predict_one, texts: list[str]) -> tuple[float, float]:
    """p50 and p99 milliseconds of `predict_one` over `texts`, one at a time, after a warm-up."""
    for t in texts[:20]:
        predict_one(t)
    times = []
    for t in texts:
        start = time.perf_counter()
        predict_one(t)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), float(np.percentile(times, 99))


def p50_ms(predict_one, texts: list[str]) -> float:
    return latencies_ms(predict_one, texts)[0]


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process (this one by default) in MB; None once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_baseline(train, test, keep_predictions: bool = False) -> dict:
    """TF-IDF word 1-2-grams + char 2-5-grams, LinearSVC (validation not needed: no early stopping)."""
    start = time.perf_counter()
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    texts = [e.text for e in train]
    x = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    svm = LinearSVC(C=1.0).fit(x, [e.label for e in train])
    seconds = time.perf_counter() - start

    def predict(batch: list[str]):
        return svm.predict(hstack([word.transform(batch), char.transform(batch)]).tocsr())

    test_texts, gold = [e.text for e in test], [e.label for e in test]
    start = time.perf_counter()
    pred = predict(test_texts)
    per_second = len(test_texts) / (time.perf_counter() - start)
    p50, p99 = latencies_ms(lambda t: predict([t]), datasets.sample(test_texts, LATENCY_SAMPLES))
    vocab_bytes = sum(len(k.encode()) + 8 for v in (word, char) for k in v.vocabulary_)
    return {
        "system": "TF-IDF + LinearSVC",
        "accuracy": accuracy_score(gold, pred),
        "macro_f1": f1_score(gold, pred, average="macro"),
        "train_seconds": seconds,
        "predict_ms_p50": p50,
        "predict_ms_p99": p99,
        "batch_per_second": per_second,
        "model_bytes": svm.coef_.astype(np.float32).nbytes + vocab_bytes,
    } | ({"predictions": [str(p) for p in pred]} if keep_predictions else {})


