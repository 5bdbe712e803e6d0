"""Intent discovery: clusters of e5 embeddings recover known groups, and what is written trains again."""

import json
import math
import re
import zlib

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from kefu.analysis import discover as discover_module
from kefu.analysis.discover import (
    Cluster,
    WardTree,
    choose_k,
    discover,
    find_clusters,
    max_clusters,
    slug,
    training_yaml,
)
from kefu.cli import app
from kefu.data import load_dataset, load_examples
from kefu.knowledge import E5Embedder

runner = CliRunner()

GROUPS = {
    "refund": [
        "I want a refund for my order",
        "how do I get a refund",
        "please refund my money",
        "refund the item I returned",
        "when will my refund arrive",
        "I was promised a refund last week",
        "can I get a refund for a damaged item",
        "the refund has not reached my account",
    ],
    "password": [
        "I forgot my password",
        "how do I reset my password",
        "password reset link does not work",
        "can't log in, need to reset my password",
        "change my account password",
        "the reset password email never came",
        "my password is not accepted",
        "help me reset the password of my account",
    ],
    "invoice": [
        "我要开发票",
        "怎么开增值税发票",
        "发票什么时候寄出",
        "能不能开电子发票",
        "发票抬头写错了",
        "帮我补开一张发票",
        "发票开好了吗",
        "公司报销需要发票",
    ],
    "delivery": [
        "快递到哪里了",
        "我的包裹什么时候送到",
        "物流信息一直不更新",
        "快递员还没有送货",
        "查一下我的快递",
        "包裹显示已签收但我没收到",
        "快递太慢了",
        "能不能加急配送",
    ],
}
TEXTS = [text for texts in GROUPS.values() for text in texts]
GOLD = [group for group, texts in GROUPS.items() for _ in texts]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(num_threads=2, progress=False)


class CountingEmbedder:
    """Passes through to ``inner`` and records every batch it was asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.calls = inner, inner.name, []

    def embed_queries(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts):
        return self.inner.embed_passages(texts)


class KeywordEmbedder:
    """A unit vector per keyword found in the text (plus a little text-specific noise): exact groups
    for testing the bookkeeping without a model."""

    name = "keywords"

    def __init__(self, keywords: list[str], noise: float = 0.05) -> None:
        self.keywords, self.noise = keywords, noise

    def embed_queries(self, texts):
        rows = []
        for text in texts:
            v = np.zeros(len(self.keywords) + 8)
            v[[i for i, k in enumerate(self.keywords) if k in text.lower()] or [-1]] = 1.0
            v[len(self.keywords) :] += np.random.default_rng(zlib.crc32(text.encode())).normal(
                0, self.noise, 8
            )
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32)

    embed_passages = embed_queries


def labels_of(clusters: list[Cluster], n: int) -> list[int]:
    labels = [-1] * n
    for rank, cluster in enumerate(clusters):
        for i in cluster.members:
            assert labels[i] == -1, f"text {i} is in two clusters"
            labels[i] = rank
    return labels


def assert_recovers_groups(clusters: list[Cluster]) -> None:
    labels = labels_of(clusters, len(TEXTS))
    assert -1 not in labels
    assert adjusted_rand_score(GOLD, labels) == 1.0, [(c.name, c.examples) for c in clusters]
    for cluster in clusters:  # the same, readably: each cluster is one whole group
        assert {GOLD[i] for i in cluster.members} == {GOLD[cluster.members[0]]}
        assert cluster.size == len(cluster.members) == 8


def test_given_k_recovers_the_groups_with_named_ranked_clusters(e5):
    clusters = discover(TEXTS, e5, n_clusters=4)
    assert len(clusters) == 4
    assert_recovers_groups(clusters)
    names = [c.name for c in clusters]
    assert len(set(names)) == 4
    for cluster in clusters:
        assert re.fullmatch(r"\w+", cluster.name)
        assert slug(cluster.terms[0].text) in cluster.name  # named from its top term
        assert 0.0 < cluster.cohesion <= 1.0 and not cluster.mixed
        assert cluster.examples == [TEXTS[i] for i in cluster.members[:5]]
        group = GOLD[cluster.members[0]]
        topic = {"refund": "refund", "password": "password", "invoice": "发票", "delivery": "快递"}[group]
        assert any(topic in t.text for t in cluster.terms[:3]), (group, cluster.terms)
    assert [c.size * c.cohesion for c in clusters] == sorted(
        (c.size * c.cohesion for c in clusters), reverse=True
    )
    d = clusters[0].to_dict()
    assert {"name", "terms", "size", "cohesion", "members", "examples"} <= d.keys()
    json.dumps(d, ensure_ascii=False)


def test_automatic_k_finds_the_four_groups(e5):
    found = find_clusters(TEXTS, e5)
    assert found.automatic and found.n_clusters == 4, found.bic
    assert set(found.bic) == set(range(1, max_clusters(len(TEXTS), len(TEXTS), 3) + 1))
    assert_recovers_groups(found.clusters)
    assert found.labels == labels_of(found.clusters, len(TEXTS))


def test_most_central_member_first(e5):
    clusters = discover(TEXTS, e5, n_clusters=4)
    vectors = e5.embed_queries(TEXTS)
    vectors = vectors - vectors.mean(axis=0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for cluster in clusters:
        centre = vectors[cluster.members].mean(axis=0)
        assert cluster.cohesion == pytest.approx(float(np.linalg.norm(centre)), abs=1e-4)
        similarity = vectors[cluster.members] @ (centre / np.linalg.norm(centre))
        assert list(similarity) == sorted(similarity, reverse=True)


def test_repeated_messages_are_embedded_once_and_counted(e5):
    embedder = CountingEmbedder(e5)
    repeats = ["how do I reset my password", "HOW DO I  reset my password ", "我要开发票", "  "]
    texts = TEXTS + repeats
    clusters = discover(texts, embedder, n_clusters=4)
    assert len(embedder.calls) == 1 and sorted(embedder.calls[0]) == sorted(TEXTS)
    by_group = {GOLD[c.members[0]]: c for c in clusters}
    assert by_group["password"].size == 10 and by_group["invoice"].size == 9
    assert by_group["refund"].size == by_group["delivery"].size == 8
    assert {32, 33} <= set(by_group["password"].members) and 34 in by_group["invoice"].members
    assert 35 not in {i for c in clusters for i in c.members}  # blank
    assert len(by_group["password"].texts) == 8  # distinct texts


def test_small_clusters_are_left_out_and_ranking_uses_size_and_cohesion():
    embedder = KeywordEmbedder(["refund", "password", "invoice"])
    texts = (
        [f"refund {i}" for i in range(10)] + [f"password {i}" for i in range(5)] + ["invoice a", "invoice b"]
    )
    found = find_clusters(texts, embedder, n_clusters=3, min_size=3)
    assert [c.size for c in found.clusters] == [10, 5]
    assert [c.name for c in found.clusters] == ["refund", "password"]
    assert found.left_out == 2 and found.labels[-2:] == [-1, -1]
    assert found.clusters[0].cohesion > 0.9
    assert len(discover(texts, embedder, n_clusters=3, min_size=2)) == 3


def test_names_stay_unique_when_top_terms_repeat():
    # the two groups differ only in punctuation, so they share their words and their names
    texts = [
        "same words !",
        "same words !!",
        "same words !!!",
        "same words ?",
        "same words ??",
        "same words ???",
    ]
    clusters = discover(texts, KeywordEmbedder(["!", "?"], noise=0.0), n_clusters=2, min_size=1)
    assert sorted(c.name for c in clusters) == ["same_words", "same_words_2"]
    assert [len(c.members) for c in clusters] == [3, 3]


def test_a_group_without_content_words_is_named_by_its_text():
    # "are you there?" asked four ways: jieba finds no word of two characters outside the stop words, so
    # no term and no word can name the group; its most central text does, as a valid intent name
    texts = ["在吗", "在吗？", "你在吗", "在不在呀", "invoice please", "an invoice", "my invoice"]
    clusters = discover(texts, KeywordEmbedder(["在", "invoice"], noise=0.0), n_clusters=2, min_size=3)
    chat = next(c for c in clusters if "在吗" in c.texts)
    assert chat.terms == [] and chat.name == "在吗"
    assert [c.name for c in clusters if c is not chat] == ["invoice"]


def test_yaml_loads_back_with_every_distinct_text_under_its_cluster(tmp_path):
    embedder = KeywordEmbedder(["refund", "null"])
    texts = [
        "refund: my order #12",
        "refund  'quoted' and \"double\"",
        "- refund dash first",
        "refund [A123](order_id) markup",  # would load as an entity annotation: left out
        "refund\u2028over two lines",
        "null value",
        "null null",
        "null again | pipe",
    ]
    clusters = discover(texts, embedder, n_clusters=2, min_size=1)
    text, skipped = training_yaml(clusters)
    assert skipped == 1
    path = tmp_path / "clusters.yml"
    path.write_text(text, encoding="utf-8")
    loaded = load_examples(path)
    expected = {(" ".join(t.split()), c.name) for c in clusters for t in c.texts if "[A123]" not in t}
    assert {(e.text, e.label) for e in loaded} == expected
    names = sorted(c.name for c in clusters)
    assert names[0] == "null" and names[1].startswith("refund") and len(loaded) == 7
    assert '- intent: "null"' in text  # quoted, or YAML would read it as nothing


def blobs(sizes: list[int], d: int = 16, spread: float = 0.15, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), d))
    x = np.concatenate([c + rng.normal(0, spread, (n, d)) for c, n in zip(centres, sizes, strict=True)])
    return x / np.linalg.norm(x, axis=1, keepdims=True), [g for g, n in enumerate(sizes) for _ in range(n)]


def test_ward_tree_cuts_and_bic_agree_with_a_direct_computation():
    x, gold = blobs([30, 20, 10])
    tree = WardTree(x)
    bic = tree.bic(10)
    n, d = x.shape
    for k in range(1, 11):
        labels = tree.labels(x, k)
        assert sorted(set(labels.tolist())) == list(range(k))
        sse = sum(((x[labels == c] - x[labels == c].mean(axis=0)) ** 2).sum() for c in range(k))
        sizes = np.bincount(labels)
        variance = sse / ((n - k) * d)
        expected = (
            float((sizes * np.log(sizes / n)).sum())
            - n * d / 2 * (math.log(2 * math.pi * variance) + 1)
            - (k * d + k) / 2 * math.log(n)
        )
        assert bic[k] == pytest.approx(expected, rel=1e-9)
    assert adjusted_rand_score(gold, tree.labels(x, 3)) == 1.0
    assert choose_k(tree, np.ones(n), min_size=3)[0] == 3
    assert (
        choose_k(WardTree(blobs([40], seed=1)[0]), np.ones(40), min_size=3)[0] == 1
    )  # one blob: one cluster


def test_inputs_over_the_tree_limit_cluster_a_sample_and_assign_the_rest(monkeypatch):
    monkeypatch.setattr(discover_module, "WARD_MAX", 20)
    groups = ["refund", "password", "invoice"]
    texts = [f"{g} request {i}" for g in groups for i in range(25)]
    found = find_clusters(texts, KeywordEmbedder(groups), n_clusters=3)
    assert -1 not in found.labels
    assert adjusted_rand_score([t.split()[0] for t in texts], found.labels) == 1.0
    assert sorted(c.size for c in found.clusters) == [25, 25, 25]
    assert find_clusters(texts, KeywordEmbedder(groups)).n_clusters == 3


def _write_csv(path, texts):
    path.write_text("id,message\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts)), encoding="utf-8")


def test_cli_writes_json_and_yaml_that_train_reads(tmp_path):
    data = tmp_path / "fallbacks.csv"
    _write_csv(data, TEXTS)
    out = tmp_path / "found"
    result = runner.invoke(app, ["discover", str(data), "--out", str(out), "--clusters", "4"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "clusters.json").read_text(encoding="utf-8"))
    assert report["n_clusters"] == 4 and not report["automatic"]
    clusters = report["clusters"]
    assert [c["size"] for c in clusters] == [8, 8, 8, 8]
    assert {"name", "terms", "size", "cohesion", "examples"} <= clusters[0].keys()
    for c in clusters:
        assert c["name"] in result.stdout
    examples, warnings = load_dataset(out / "clusters.yml")
    assert not warnings
    by_name = {c["name"]: {TEXTS[i] for i in c["members"]} for c in clusters}
    assert {label: {e.text for e in examples if e.label == label} for label in by_name} == by_name
    assert adjusted_rand_score(GOLD, [next(n for n, s in by_name.items() if t in s) for t in TEXTS]) == 1.0


def test_cli_automatic_k_on_a_text_file(tmp_path):
    data = tmp_path / "fallbacks.txt"
    data.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["discover", str(data), "--out", str(tmp_path / "o"), "--min-size", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "clusters.json").read_text(encoding="utf-8"))
    assert report["automatic"] and report["n_clusters"] == 4


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("bad.csv", 'id,message\n1,"fine"\n2,"broken\n', 3),
        ("bad.jsonl", '{"text": "fine"}\n{"text": "fine too"}\n{"text": oops}\n', 3),
        ("bad.txt", "fine\nalso fine\n", None),  # replaced by invalid UTF-8 below
    ],
)
def test_cli_bad_record_is_one_error_line_with_file_and_line(tmp_path, name, content, line):
    data = tmp_path / name
    if line is None:
        data.write_bytes(content.encode() + b"caf\xe9\n")
        line = 3
    else:
        data.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["discover", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("error:")
    assert f"{data}:{line}:" in result.output
    assert not (tmp_path / "o").exists()


def test_cli_refuses_other_file_types(tmp_path):
    data = tmp_path / "x.yml"
    data.write_text("nlu: []\n", encoding="utf-8")
    result = runner.invoke(app, ["discover", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "cannot read '.yml' files" in result.output
