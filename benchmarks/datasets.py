"""Readers for the shared benchmark datasets (read in place from ../shared/data, never copied)."""

import csv
import random
from pathlib import Path

from kefu.data import Example, stratified_split

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _csv(path: Path) -> list[Example]:
    with path.open(encoding="utf-8") as f:
        return [Example(r["text"], r["category"], str(path)) for r in csv.DictReader(f)]


def banking77(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """Train / validation (10% of train, stratified) / test."""
    train, val = stratified_split(_csv(DATA / "banking77" / "train.csv"), 0.1, seed)
    return train, val, _csv(DATA / "banking77" / "test.csv")


def _cais_split(name: str) -> list[Example]:
    """CoNLL character/tag blocks plus a parallel file of one intent per block."""
    blocks = (DATA / "cais" / f"ch.{name}").read_text(encoding="utf-8").strip().split("\n\n")
    intents = (DATA / "cais" / f"ch.{name}.intent").read_text(encoding="utf-8").split()
    if len(blocks) != len(intents):
        raise ValueError(f"cais {name}: {len(blocks)} utterances but {len(intents)} intents")
    texts = ["".join(line.split()[0] for line in block.splitlines() if line.strip()) for block in blocks]
    return [Example(t, i, f"cais/ch.{name}") for t, i in zip(texts, intents, strict=True)]


def cais() -> tuple[list[Example], list[Example], list[Example]]:
    return _cais_split("train"), _cais_split("valid"), _cais_split("test")


def sample(examples: list[Example], n: int, seed: int = 0) -> list[Example]:
    return random.Random(seed).sample(examples, min(n, len(examples)))
