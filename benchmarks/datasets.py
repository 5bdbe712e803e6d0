"""Readers for the shared benchmark datasets (read in place from ../shared/data, never copied)."""

import csv
import json
import random
from pathlib import Path

from kefu.data import Example, stratified_split
from kefu.entities import read_bio_dataset

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _csv(path: Path) -> list[Example]:
    with path.open(encoding="utf-8") as f:
        return [Example(r["text"], r["category"], str(path)) for r in csv.DictReader(f)]


def banking77(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """Train / validation (10% of train, stratified) / test."""
    train, val = stratified_split(_csv(DATA / "banking77" / "train.csv"), 0.1, seed)
    return train, val, _csv(DATA / "banking77" / "test.csv")


def unlabelled_requests(n: int, seed: int = 0) -> list[str]:
    """`n` customer requests without labels (for distillation): Bitext's customer-support utterances and
    CLINC150's training questions (banking and 9 other domains), shuffled together."""
    with (DATA / "bitext_customer_support" / "bitext_20k_utterances.csv").open(encoding="utf-8-sig") as f:
        texts = [r["utterance"] for r in csv.DictReader(f)]
    clinc = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    texts += [text for text, _ in clinc["train"]]
    return random.Random(seed).sample(texts, min(n, len(texts)))


def sample(examples: list[Example], n: int, seed: int = 0) -> list[Example]:
    return random.Random(seed).sample(examples, min(n, len(examples)))


def clinc150() -> tuple[list[Example], list[Example], list[Example]]:
    """data_full.json: in-scope and out-of-scope (`oos`) examples together in each split."""
    data = json.loads((DATA / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    src = "clinc150/data_full.json"

    def split(*keys: str) -> list[Example]:
        return [Example(text, label, src) for key in keys for text, label in data[key]]

    return split("train", "oos_train"), split("val", "oos_val"), split("test", "oos_test")


def smp2019() -> tuple[list[Example], list[Example], list[Example]]:
    """The 8/1/1 split of SMP2019-ECDT (Chinese intents)."""
    folder = DATA / "smp2019_ecdt" / "split_8_1_1"

    def split(name: str) -> list[Example]:
        rows = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        return [Example(r["text"], r["intent"], f"smp2019/{name}.json") for r in rows]

    return split("train"), split("dev"), split("test")


def _slots(name: str, split: str) -> list[Example]:
    return [
        Example(text, intent, f"{name}/{split}", entities=tuple(ents))
        for text, intent, ents in read_bio_dataset(DATA / name, split)
    ]


def cais_slots() -> tuple[list[Example], list[Example], list[Example]]:
    """CAIS with its slot annotations as entity spans."""
    return _slots("cais", "train"), _slots("cais", "valid"), _slots("cais", "test")


def snips() -> tuple[list[Example], list[Example], list[Example]]:
    return _slots("snips", "train"), _slots("snips", "valid"), _slots("snips", "test")


_SENTIMENT = {"0": "negative", "1": "positive"}


def waimai(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """waimai_10k has no split: 80/20 train/test with a fixed seed, validation 10% of train."""
    with (DATA / "waimai_10k" / "waimai_10k.csv").open(encoding="utf-8") as f:
        rows = [Example(r["review"], _SENTIMENT[r["label"]], "waimai_10k.csv") for r in csv.DictReader(f)]
    rest, test = stratified_split(rows, 0.2, seed)
    train, val = stratified_split(rest, 0.1, seed)
    return train, val, test


def sst2() -> tuple[list[Example], list[Example], list[Example]]:
    """GLUE SST-2: train, dev as validation, and the labelled test file."""

    def split(name: str) -> list[Example]:
        with (DATA / "sst2" / f"{name}.tsv").open(encoding="utf-8") as f:
            return [
                Example(r.get("content") or r["sentence"], _SENTIMENT[r["label"]], f"sst2/{name}.tsv")
                for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            ]

    return split("train"), split("dev"), split("test")


def _split_80_10_10(rows: list[Example], seed: int) -> tuple[list[Example], list[Example], list[Example]]:
    rest, test = stratified_split(rows, 0.1, seed)
    train, val = stratified_split(rest, 1 / 9, seed)
    return train, val, test


def nlpcc_headlines() -> list[Example]:
    """All 36,000 NLPCC 2017 headlines (18 topics). The file spaces out every character; the spaces go
    (the original spaces between Latin words are lost with them: "iOS10Beta2")."""
    path = DATA / "nlpcc2017_news_headline" / "test.full.char.tsv"
    with path.open(encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
    return [Example(text.replace(" ", ""), label, str(path)) for label, text in rows]


def nlpcc(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """The labelled NLPCC file has no split: stratified 80/10/10 train/validation/test, fixed seed."""
    return _split_80_10_10(nlpcc_headlines(), seed)


def ag_news(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """AG News' 7,600-item test file (4 topics), "title. description" per item; no split: 80/10/10."""
    folder = DATA / "ag_news_test"
    classes = (folder / "classes.txt").read_text(encoding="utf-8").split()
    with (folder / "test.csv").open(encoding="utf-8") as f:
        rows = [
            # the source writes line breaks as a backslash
            Example(f"{title}. {body}".replace("\\", " "), classes[int(label) - 1], "ag_news_test/test.csv")
            for label, title, body in csv.reader(f)
        ]
    return _split_80_10_10(rows, seed)


def bitext_categories(seed: int = 0) -> tuple[list[Example], list[Example], list[Example]]:
    """Bitext's 8,175 customer-support utterances labelled with their 11 categories (ACCOUNT, PAYMENT,
    REFUND, ...): a support team's topics. No split: 80/10/10."""
    path = DATA / "bitext_customer_support" / "bitext_8k_utterances.csv"
    with path.open(encoding="utf-8-sig") as f:
        rows = [Example(r["utterance"], r["category"], str(path)) for r in csv.DictReader(f)]
    return _split_80_10_10(rows, seed)
