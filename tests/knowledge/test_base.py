import json
from pathlib import Path

import numpy as np
import pytest

from kefu.errors import ArtifactError
from kefu.knowledge import Fusion, KnowledgeBase, load_folder, stored_fingerprint

# `embedder` is conftest's TinyEmbedder (deterministic hashing; counts its passage calls)


def test_search_finds_the_obvious_passage(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    hits = kb.search("how long does a refund take", k=3)
    assert hits[0].passage.id == "refund-time"
    assert hits[0].bm25_score > 0 and -1.0 <= hits[0].dense_score <= 1.0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert kb.search("怎么修改收货地址", k=1)[0].passage.source == "faq.csv:7"
    assert kb.search("express delivery time", k=1)[0].passage.source == "shipping.md#Delivery times"
    assert kb.search("   ") == []


def test_a_shared_answer_is_returned_once(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    answers = [h.passage.answer for h in kb.search("refund money back card", k=5)]
    assert len(answers) == len(set(answers)) == 5


def test_answer_applies_the_threshold_to_the_dense_score(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    hit = kb.answer("退款多久到账？", min_score=0.5)
    assert hit is not None and hit.passage.answer.startswith("退款会在")
    assert kb.answer("退款多久到账？", min_score=hit.dense_score + 1e-6) is None
    assert kb.answer("zzzz qqqq", min_score=0.5) is None


def test_answer_is_the_most_similar_of_the_best_fused_hits(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    query = "refund money back card"
    candidates = kb.search(query, k=3)
    hit = kb.answer(query, min_score=-1.0)
    assert hit == max(candidates, key=lambda h: h.dense_score)


def test_traditional_characters_find_simplified_passages(knowledge_dir: Path, embedder, tmp_path: Path) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    simplified = kb.search("怎么修改收货地址", k=3)
    assert kb.search("怎麼修改收貨地址", k=3) == [
        type(h)(h.passage, h.score, h.bm25_score, h.dense_score) for h in simplified
    ]
    # an index saved before scripts were folded is searched as it was built
    index = kb.save(tmp_path / "index")
    meta = json.loads((index / "kb.json").read_text(encoding="utf-8"))
    del meta["script"]
    (index / "kb.json").write_text(json.dumps(meta), encoding="utf-8")
    old = KnowledgeBase.load(index, embedder)
    assert old.script is None
    assert old.search("怎麼修改收貨地址", k=1)[0].dense_score < simplified[0].dense_score


def test_save_load_round_trip_gives_the_same_results(knowledge_dir: Path, embedder, tmp_path: Path) -> None:
    fusion = Fusion("rrf", alpha=0.4, rrf_k=10)
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder, fusion=fusion)
    kb.save(tmp_path / "index")
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == ["index.safetensors", "kb.json"]
    again = KnowledgeBase.load(tmp_path / "index", embedder)
    assert again.fusion == fusion and again.fingerprint == kb.fingerprint and again.passages == kb.passages
    assert np.array_equal(again.dense.vectors, kb.dense.vectors)
    for query in ["refund", "发票怎么开", "customs duties", "优惠券"]:
        assert again.search(query, k=4) == kb.search(query, k=4)
    kb.save(tmp_path / "index")  # saving over an index replaces it
    assert KnowledgeBase.load(tmp_path / "index", embedder).search("refund") == kb.search("refund")


def test_load_refuses_another_embedder_and_damaged_files(
    knowledge_dir: Path, embedder, tmp_path: Path
) -> None:
    index = KnowledgeBase.build(load_folder(knowledge_dir), embedder).save(tmp_path / "index")
    with pytest.raises(ArtifactError, match="built with embedder 'tiny-hash-256'"):
        KnowledgeBase.load(index, type(embedder)("other-model"))
    meta = json.loads((index / "kb.json").read_text(encoding="utf-8"))
    meta["passages"][0]["answer"] = "tampered"
    (index / "kb.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ArtifactError, match="does not match its fingerprint"):
        KnowledgeBase.load(index, embedder)
    with pytest.raises(ArtifactError, match="no knowledge index"):
        KnowledgeBase.load(tmp_path / "missing", embedder)


def test_save_refuses_to_overwrite_a_foreign_folder(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.build(load_folder(knowledge_dir), embedder)
    with pytest.raises(ArtifactError, match="refusing to overwrite"):
        kb.save(knowledge_dir)
    assert (knowledge_dir / "faq.csv").exists()


def test_from_folder_rebuilds_only_when_the_folder_changed(knowledge_dir: Path, embedder) -> None:
    kb = KnowledgeBase.from_folder(knowledge_dir, embedder)
    assert embedder.passage_calls == 1 and stored_fingerprint(knowledge_dir / ".index") == kb.fingerprint

    same = KnowledgeBase.from_folder(knowledge_dir, embedder)
    assert embedder.passage_calls == 1 and same.fingerprint == kb.fingerprint  # loaded, not rebuilt

    with (knowledge_dir / "faq.csv").open("a", encoding="utf-8") as f:
        f.write(",积分怎么用？,积分可以在结算时抵扣现金。,zh\n")
    changed = KnowledgeBase.from_folder(knowledge_dir, embedder)
    assert embedder.passage_calls == 2 and changed.fingerprint != kb.fingerprint
    assert changed.search("积分怎么用", k=1)[0].passage.answer == "积分可以在结算时抵扣现金。"
    assert KnowledgeBase.from_folder(knowledge_dir, embedder).fingerprint == changed.fingerprint
    assert embedder.passage_calls == 2

    KnowledgeBase.from_folder(knowledge_dir, type(embedder)("other-model"))  # another model: rebuilt
    assert stored_fingerprint(knowledge_dir / ".index") not in (kb.fingerprint, changed.fingerprint)
