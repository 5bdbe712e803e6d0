"""The fit loop: AdamW, warm-up + decay, label smoothing, clipping, early stopping on validation macro-F1.

Ctrl-C ends training after the current step and keeps the best model seen so far.
"""

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from sklearn.metrics import f1_score
from tokenizers import Tokenizer
from torch import nn

from kefu.data import Example, stratified_split
from kefu.entities import entity_scores
from kefu.entities.tagging import word_targets
from kefu.errors import ConfigError
from kefu.nlu.backbone import PretrainedBackbone
from kefu.nlu.build import build_network
from kefu.nlu.encoder import EncoderConfig
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.model import ENCODER_BATCH, HeadOutputs, Model, pad_states
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.nlu.oos import OOS_LABEL, Threshold, canonical_label, choose_threshold
from kefu.nlu.pretrained import load_pretrained
from kefu.nlu.train_config import TrainConfig
from kefu.text.ngrams import NgramFeaturizer
from kefu.text.tokenizer import train_tokenizer
from kefu.training import distributed
from kefu.training.augment import augment
from kefu.training.checkpoint import Checkpoints, Saved, fingerprint, restore
from kefu.training.schedules import lr_factor
from kefu.training.teacher import Teacher

_IGNORE = -100  # the loss skips these positions: special tokens and padding

# Batches are drawn from chunks of this many batches sorted by length: far less padding, still random.
_BUCKET_BATCHES = 50
# Validation texts per pass when the frozen bottom's states are cached (only the trainable top runs)
CACHED_BATCH = 128


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Optimizer:
    """AdamW for the dense weights and lazy (sparse) Adam for the n-gram table, stepped and scheduled as one."""

    def __init__(self, net: IntentNetwork, cfg: TrainConfig, total: int):
        table = [p for name, p in net.named_parameters() if name.startswith("ngrams") and p.requires_grad]
        self.dense = [p for name, p in net.named_parameters() if not name.startswith("ngrams") and p.requires_grad]
        self.parts = [torch.optim.AdamW(_param_groups(net, cfg), lr=cfg.lr)]
        if table:
            self.parts.append(torch.optim.SparseAdam(table, lr=cfg.lr))
        warmup = int(cfg.warmup * total)
        self.schedules = [
            torch.optim.lr_scheduler.LambdaLR(part, lr_factor(cfg.schedule, total, warmup)) for part in self.parts
        ]
        self.clip = cfg.clip

    def step(self, loss: torch.Tensor) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=True)
        loss.backward()
        # the sparse table stays out of clipping: its rows are independent counts, not a deep path
        torch.nn.utils.clip_grad_norm_(self.dense, self.clip)
        for part, schedule in zip(self.parts, self.schedules, strict=True):
            part.step()
            schedule.step()


def _param_groups(net: IntentNetwork, cfg: TrainConfig) -> list[dict]:
    """The dense weights' groups: decay only weight matrices (not embeddings, biases or norms); pretrained
    layers learn at `encoder_lr`."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad or name.startswith("ngrams"):
            continue
        is_table = name.startswith(("encoder.tok", "encoder.pos"))
        pretrained = net.cfg.pretrained is not None and name.startswith("encoder.")
        groups.setdefault((p.dim() >= 2 and not is_table, pretrained), []).append(p)
    return [
        {
            "params": params,
            "weight_decay": cfg.weight_decay if decay else 0.0,
            "lr": cfg.encoder_lr if pretrained else cfg.lr,
        }
        for (decay, pretrained), params in groups.items()
    ]


def _featurizer(cfg: TrainConfig, texts: list[str], saved: Saved | None) -> NgramFeaturizer | None:
    """The n-gram features (None when off): a resumed run's, or fitted on `texts` by rank 0 and sent to
    the other ranks of a distributed run."""
    if not cfg.ngrams:
        return None
    if saved:
        return NgramFeaturizer.from_dict(saved.ngrams)
    return distributed.from_main(lambda: NgramFeaturizer().fit(texts), NgramFeaturizer.to_dict, NgramFeaturizer.from_dict)


def _inputs(
    cfg: TrainConfig, texts: list[str], ngrams: NgramFeaturizer | None, saved_tokenizer: str | None = None
) -> tuple[InputEncoder, EncoderConfig, nn.Module | None]:
    """The tokenizer and encoder shape: trained from scratch on `texts` (or the tokenizer of a resumed run,
    `saved_tokenizer`), or a pretrained encoder's, returned with its loaded model for `build_network`."""
    if cfg.encoder == "scratch":
        if saved_tokenizer is not None:
            tokenizer = Tokenizer.from_str(saved_tokenizer)
        else:
            tokenizer = distributed.from_main(
                lambda: train_tokenizer(texts, vocab_size=cfg.vocab_size), Tokenizer.to_str, Tokenizer.from_str
            )
        enc_cfg = EncoderConfig(
            vocab_size=tokenizer.get_vocab_size(),
            max_len=cfg.max_len,
            dim=cfg.dim,
            layers=cfg.layers,
            heads=cfg.heads,
            ff_mult=cfg.ff_mult,
            dropout=cfg.dropout,
            init=cfg.init,
        )
        return InputEncoder(tokenizer, ngrams, cfg.max_len), enc_cfg, None
    pre = load_pretrained(cfg.encoder)
    bert = pre.model.config
    enc_cfg = EncoderConfig(
        vocab_size=bert.vocab_size,
        max_len=cfg.max_len,
        dim=pre.dim,
        layers=cfg.encoder_layers or bert.num_hidden_layers,
        heads=bert.num_attention_heads,
        ff_mult=bert.intermediate_size // pre.dim,
        dropout=cfg.dropout,
    )
    inputs = InputEncoder(pre.tokenizer, ngrams, cfg.max_len, pad_id=pre.pad_id, prefix=pre.query_prefix)
    return inputs, enc_cfg, pre.model


@torch.inference_mode()
def cache_lower(net: IntentNetwork, inputs: InputEncoder, token_ids: list[list[int]], progress: bool) -> list:
    """The frozen encoder bottom's output for every training text, computed once for all epochs."""
    net.eval()
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    states: list = [None] * len(token_ids)
    with Progress(
        TextColumn("encoding with the frozen layers"), BarColumn(), TimeRemainingColumn(), disable=not progress
    ) as bar:
        task = bar.add_task("cache", total=len(order))
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            batch = inputs.batch(["" for _ in rows], [token_ids[i] for i in rows])
            h = net.encoder.lower(batch.ids, batch.keep)
            for r, i in enumerate(rows):
                states[i] = h[r, : len(token_ids[i])].clone()
            bar.update(task, advance=len(rows))
    return states


def _epoch_rows(n_intent: int, n_sentiment: int, rng: random.Random) -> list[int]:
    """Every intent example and at most as many sentiment examples, freshly sampled each epoch: a large
    sentiment set (reviews are long, too) neither slows training down nor drowns the intents."""
    moods = range(n_intent, n_intent + n_sentiment)
    picked = rng.sample(moods, n_intent) if n_sentiment > n_intent else moods
    return list(range(n_intent)) + list(picked)


def length_buckets(rows: list[int], lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """`rows` shuffled into batches of similar length."""
    order = list(rows)
    rng.shuffle(order)
    batches = []
    span = batch_size * _BUCKET_BATCHES
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def validation_scores(probs: torch.Tensor, labels: list[str], examples: list[Example]) -> tuple[float, float]:
    """(macro-F1, accuracy); a validation label absent from training (-1) can only count as an error."""
    pred = probs.argmax(-1).tolist()
    label_id = {label: i for i, label in enumerate(labels)}
    gold = [label_id.get(e.label, -1) for e in examples]
    acc = float(np.mean(np.array(pred) == np.array(gold)))
    return float(f1_score(gold, pred, average="macro", zero_division=0)), acc


def fit(
    examples: list[Example],
    config: TrainConfig | None = None,
    val_examples: list[Example] | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    sentiment: list[Example] | None = None,
    sentiment_val: list[Example] | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    teacher: Teacher | None = None,
) -> Model:
    """Train an intent model, with a sentiment head when `sentiment` examples (label = sentiment) are given.

    Without `val_examples` (or `sentiment_val`), `config.val_fraction` of that data is held out. Both kinds
    of example share the encoder and are mixed in every batch; each head learns only from its own kind.

    With `checkpoint_dir`, the state of the run is saved there after every epoch (see
    `kefu.training.checkpoint`); `resume` continues from the latest checkpoint, if any, where the run that
    wrote it was killed. Every process of a distributed job calls `fit` alike (see
    `kefu.training.distributed`); there Ctrl-C stops them all instead of keeping the best model so far.

    With a `teacher`, the intent heads also learn its soft labels, on the examples and on its unlabelled
    texts (knowledge distillation; see `kefu.training.teacher`).
    """
    cfg = config or TrainConfig()
    if resume and checkpoint_dir is None:
        raise ConfigError("resume needs the checkpoint_dir to resume from")
    store = None
    if checkpoint_dir is not None:
        identity = fingerprint(
            cfg, examples, val_examples, sentiment, sentiment_val, teacher.describe() if teacher else None
        )
        store = Checkpoints(checkpoint_dir, identity)
    progress = progress and distributed.is_main()
    seed_everything(cfg.seed)
    if val_examples is None and cfg.val_fraction > 0:
        examples, val_examples = stratified_split(examples, cfg.val_fraction, cfg.seed)
    if sentiment and sentiment_val is None and cfg.val_fraction > 0:
        sentiment, sentiment_val = stratified_split(sentiment, cfg.val_fraction, cfg.seed)
    rows = Rows.of(canonical(examples), list(sentiment or []), teacher)
    saved = store.start(resume) if store else None
    model, caches_lower = _new_model(cfg, rows, saved)
    token_ids = model.inputs.token_ids(rows.texts)
    lower = cache_lower(model.network, model.inputs, token_ids, progress) if caches_lower else None
    validation = Validation(model, canonical(val_examples or []), list(sentiment_val or []), caches_lower, progress)
    run = _Run(model, rows, cfg, token_ids, lower, teacher)
    history, stopping, started, interrupted = run.epochs(validation, saved, store, on_epoch, progress)
    stopping.restore_best(model.network)
    model.network.eval()
    model.metrics = {
        "history": history,
        "train_seconds": time.perf_counter() - started,
        "n_train": len(rows.examples),
        "n_val": len(validation.examples),
        "interrupted": interrupted,
    }
    if saved:
        model.metrics["resumed_after_epoch"] = saved.epoch
    if rows.sentiment:
        model.metrics.update(n_sentiment_train=len(rows.sentiment), n_sentiment_val=len(validation.sentiment))
    if validation and history:
        best = max(history, key=_epoch_score)
        model.metrics["best_epoch"] = best["epoch"]
        model.metrics.update({k: v for k, v in best.items() if k.startswith("val_")})
    probs = validation.outputs(model).intent[: len(validation.examples)] if validation.examples else None
    model.oos = oos_threshold(model, validation.examples, probs, cfg)
    return model


@dataclass
class Rows:
    """What `fit` trains on, one row per text: the intent examples, the teacher's unlabelled texts, then the
    sentiment examples. Each head's targets mark the other kinds' rows as ignored."""

    examples: list[Example]
    unlabelled: list[Example]
    sentiment: list[Example]
    labels: list[str]  # the intents, sorted
    moods: list[str]  # the sentiment labels, sorted
    targets: torch.Tensor  # intent id per row
    mood_targets: torch.Tensor  # sentiment id per row
    soft: torch.Tensor | None  # the teacher's probabilities for the intent and unlabelled rows

    @classmethod
    def of(cls, examples: list[Example], sentiment: list[Example], teacher: Teacher | None) -> "Rows":
        labels = sorted({e.label for e in examples})
        moods = sorted({e.label for e in sentiment})
        unlabelled = [Example(text, "", "<unlabelled>") for text in (teacher.unlabelled if teacher else [])]
        n_intent = len(examples) + len(unlabelled)
        texts = [e.text for e in examples + unlabelled]
        return cls(
            examples,
            unlabelled,
            sentiment,
            labels,
            moods,
            _targets(examples, labels, before=0, after=len(unlabelled) + len(sentiment)),
            _targets(sentiment, moods, before=n_intent, after=0),
            teacher.soft_targets(texts, labels) if teacher else None,
        )

    @property
    def everything(self) -> list[Example]:
        return self.examples + self.unlabelled + self.sentiment

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.everything]

    @property
    def n_intent_rows(self) -> int:
        """Rows the intent heads learn from: the examples and the teacher's unlabelled texts."""
        return len(self.examples) + len(self.unlabelled)


def _new_model(cfg: TrainConfig, rows: Rows, saved: Saved | None) -> tuple[Model, bool]:
    """The untrained model for `rows`: n-gram features, tokenizer and network; and whether its encoder
    has a frozen bottom whose outputs are worth computing once for all epochs."""
    ngrams = _featurizer(cfg, [e.text for e in rows.examples], saved)
    inputs, enc_cfg, bert = _inputs(cfg, rows.texts, ngrams, saved.tokenizer_json if saved else None)
    pretrained = None if cfg.encoder == "scratch" else cfg.encoder
    net_cfg = NetworkConfig(
        encoder=enc_cfg,
        n_intents=len(rows.labels),
        n_ngrams=ngrams.size if ngrams else 0,
        ngram_head=cfg.ngram_head,
        tags=_tag_names(rows.examples),
        sentiments=rows.moods,
        pretrained=pretrained,
        train_layers=cfg.train_layers if pretrained else 0,
    )
    net = build_network(net_cfg, bert=bert)
    caches_lower = isinstance(net.encoder, PretrainedBackbone) and net.encoder.caches_lower
    return Model(net, inputs, rows.labels, cfg), caches_lower


class Validation:
    """The validation texts, tokenised once (and their frozen-bottom states cached) for every epoch's scores."""

    def __init__(
        self, model: Model, examples: list[Example], sentiment: list[Example], cache: bool, progress: bool
    ) -> None:
        self.examples, self.sentiment = examples, sentiment
        self.texts = [e.text for e in examples + sentiment]
        self.encoded = model.inputs.encode(self.texts)
        self.lower = (
            cache_lower(model.network, model.inputs, self.encoded[0], progress) if cache and self.texts else None
        )
        self.annotated = bool(model.network.cfg.tags) and any(e.entities for e in examples)

    def __bool__(self) -> bool:
        return bool(self.examples or self.sentiment)

    def outputs(self, model: Model) -> HeadOutputs:
        """Every head's output on the validation texts (intent examples first, then sentiment ones)."""
        # cached states leave only the trainable top to run: larger passes pay off there
        batch_size = CACHED_BATCH if self.lower is not None else ENCODER_BATCH
        return shared_outputs(model, self.texts, batch_size, self.encoded, self.lower)

    def scores(self, model: Model) -> dict[str, float]:
        """The `val_*` fields of an epoch's record: each head's macro-F1 and accuracy on its own examples,
        and the entity head's F1 on annotated intent examples."""
        heads = self.outputs(model)
        n, record = len(self.examples), {}
        if self.examples:
            record["val_macro_f1"], record["val_accuracy"] = validation_scores(
                heads.intent[:n], model.labels, self.examples
            )
            if self.annotated:
                found = model.learned_entities(self.texts[:n], heads.tags[:n], heads.spans[:n])
                record["val_entity_f1"] = entity_scores([list(e.entities) for e in self.examples], found)["f1"]
        if self.sentiment:
            record["val_sentiment_macro_f1"], record["val_sentiment_accuracy"] = validation_scores(
                heads.sentiment[n:], model.sentiments, self.sentiment
            )
        return record


@dataclass
class EarlyStopping:
    """Keeps the weights of the best epoch; training stops after `patience` epochs without a better one."""

    patience: int
    best_score: float = -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    stale: int = 0

    def update(self, score: float, net: IntentNetwork) -> None:
        if score > self.best_score:
            self.best_score, self.best_state, self.stale = score, _trainable_state(net), 0
        else:
            self.stale += 1

    @property
    def stop(self) -> bool:
        return self.stale >= self.patience

    def restore_best(self, net: IntentNetwork) -> None:
        if self.best_state is not None:
            net.load_state_dict(self.best_state, strict=False)


def epoch_progress(title: str, fields: str, total: int, epochs: int, disable: bool, **start: object):
    """A progress bar over every step of every epoch, `title epoch N/M` and `fields` (a format string of
    the task's fields) beside it; returns (the bar, its task)."""
    bar = Progress(
        TextColumn(f"[bold]{title}" + "{task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        TextColumn(fields),
        TimeRemainingColumn(),
        disable=disable,
        transient=False,
    )
    return bar, bar.add_task(title, total=total, epoch=1, epochs=epochs, **start)


def train_epoch(
    net: nn.Module,
    opt: Optimizer,
    batches: list[list[int]],
    batch_loss: Callable[[list[int]], torch.Tensor],
    advance: Callable[[float], None],
) -> float:
    """One pass over `batches` (lists of row indices): each batch's loss, one optimiser step; `advance` gets
    the mean loss so far after every step. Returns the summed loss."""
    net.train()
    running = 0.0
    for step, rows in enumerate(batches, start=1):
        loss = batch_loss(rows)
        opt.step(loss)
        running += loss.item()
        advance(running / step)
    net.eval()
    return running


class _Run:
    """The epochs of one `fit`: batches, the loss of each, validation, early stopping and checkpoints."""

    def __init__(
        self,
        model: Model,
        rows: Rows,
        cfg: TrainConfig,
        token_ids: list[list[int]],
        lower: list[torch.Tensor] | None,
        teacher: Teacher | None,
    ) -> None:
        self.model, self.rows, self.cfg, self.teacher = model, rows, cfg, teacher
        self.token_ids, self.lower = token_ids, lower
        self.texts, self.everything = rows.texts, rows.everything
        self.lengths = [len(s) for s in token_ids]
        tags = model.network.cfg.tags
        self.tag_targets = (
            _tag_targets(rows.examples, model.inputs, tags) + [None] * (len(rows.unlabelled) + len(rows.sentiment))
            if tags
            else None
        )
        self.steps_per_epoch = distributed.steps_per_epoch(
            rows.n_intent_rows + min(len(rows.sentiment), rows.n_intent_rows), cfg.batch_size
        )
        self.rng: random.Random | None = None  # this rank's, for batches and augmentation (set by `epochs`)

    def epochs(
        self,
        validation: Validation,
        saved: Saved | None,
        store: Checkpoints | None,
        on_epoch: Callable[[dict], None] | None,
        progress: bool,
    ) -> tuple[list[dict], EarlyStopping, float, bool]:
        """Train until the last epoch or early stopping; returns (history, the early stopping state, the
        start time, whether Ctrl-C ended it)."""
        cfg, net = self.cfg, self.model.network
        total = self.steps_per_epoch * cfg.epochs
        opt = Optimizer(net, cfg, total)
        self.rng, shared_rng = distributed.rngs(cfg.seed)
        first_epoch, history, best, best_state, stale = restore(saved, cfg, net, opt, (self.rng, shared_rng))
        stopping = EarlyStopping(cfg.patience, best, best_state, stale)
        # kefu mean-pools, so the pooler of a pretrained checkpoint (minilm has one) never gets a gradient
        backbone = net.encoder if isinstance(net.encoder, PretrainedBackbone) else None
        self.train_net = distributed.wrap(net, unused_weights=backbone is not None and backbone.bert.pooler is not None)
        # a resumed run counts the time its first part trained too
        started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
        bar, task = epoch_progress(
            "epoch ", "loss {task.fields[loss]:.3f}  val acc {task.fields[val_acc]}", total, cfg.epochs,
            not progress, loss=0.0, val_acc="-",
        )
        interrupted = False
        with bar:
            try:
                for epoch in range(first_epoch, cfg.epochs + 1):
                    rows = distributed.shard(
                        _epoch_rows(self.rows.n_intent_rows, len(self.rows.sentiment), shared_rng), epoch, cfg.seed
                    )
                    batches = length_buckets(rows, self.lengths, distributed.local_batch_size(cfg.batch_size), self.rng)
                    running = train_epoch(
                        net, opt, batches, self.loss,
                        lambda loss, epoch=epoch: bar.update(task, advance=1, epoch=epoch, loss=loss),
                    )
                    record = {
                        "epoch": epoch,
                        "loss": distributed.mean(running / self.steps_per_epoch),
                        "seconds": time.perf_counter() - started,
                    }
                    if validation:
                        record.update(validation.scores(self.model))
                        if "val_accuracy" in record:
                            bar.update(task, val_acc=f"{record['val_accuracy']:.3f}")
                    history.append(record)
                    if on_epoch and distributed.is_main():
                        on_epoch(record)
                    stopping.update(_epoch_score(record), net)
                    if store:
                        store.save(
                            epoch, net, opt, (self.rng, shared_rng), history, stopping.best_score,
                            stopping.best_state, stopping.stale, self.model.inputs, self.model.labels,
                        )
                    if stopping.stop:
                        break
            except KeyboardInterrupt:
                if distributed.active():
                    raise  # the ranks cannot agree on where to stop: the checkpoints are what is kept
                interrupted = True
        return history, stopping, started, interrupted

    def loss(self, batch_idx: list[int]) -> torch.Tensor:
        """Every head's loss on one batch of rows, each head on the rows it has targets for."""
        cfg, rows, inputs, rng = self.cfg, self.rows, self.model.inputs, self.rng
        batch_texts = [self.texts[i] for i in batch_idx]
        batch_ids = [self.token_ids[i] for i in batch_idx]
        if cfg.augment and self.lower is None:
            batch_texts = augmented([self.everything[i] for i in batch_idx], cfg.augment, rng)
            batch_ids = inputs.token_ids(batch_texts)
        cached = pad_states([self.lower[i] for i in batch_idx]) if self.lower is not None else None
        out = self.train_net(inputs.batch(batch_texts, batch_ids), lower=cached)
        loss = head_loss(out.intent, rows.targets[batch_idx], cfg.label_smoothing)
        if out.ngram_intent is not None:
            loss = loss + head_loss(out.ngram_intent, rows.targets[batch_idx], cfg.label_smoothing)
        if out.sentiment is not None:
            loss = loss + head_loss(out.sentiment, rows.mood_targets[batch_idx], cfg.label_smoothing)
        if rows.soft is not None:
            loss = loss + _distillation_loss(self.teacher, out, rows.soft, batch_idx)
        if self.tag_targets is not None:
            gold = _pad_tags([self.tag_targets[i] for i in batch_idx], batch_ids)
            # a batch of sentiment examples only has no tag to learn: head_loss makes that 0, not NaN
            loss = loss + head_loss(out.tags.flatten(0, 1), gold.flatten(), 0.0)
        return loss


def augmented(examples: list[Example], rate: float, rng: random.Random) -> list[str]:
    """The texts of `examples`, each perturbed by `augment` with probability `rate`; an annotated example's
    never is: its entity spans would no longer fit."""
    return [augment(e.text, rng) if rng.random() < rate and not e.entities else e.text for e in examples]


def _distillation_loss(teacher: Teacher, out, soft: torch.Tensor, batch_idx: list[int]) -> torch.Tensor:
    """The teacher's loss on the batch rows it labelled (not the sentiment examples), for each intent head."""
    mine = [r for r, i in enumerate(batch_idx) if i < len(soft)]
    if not mine:
        return out.intent.sum() * 0.0
    targets = soft[[batch_idx[r] for r in mine]]
    loss = teacher.loss(out.intent[mine], targets)
    if out.ngram_intent is not None:
        loss = loss + teacher.loss(out.ngram_intent[mine], targets)
    return loss


def _targets(examples: list[Example], labels: list[str], before: int, after: int) -> torch.Tensor:
    """Label ids of `examples`, with `before` and `after` ignored rows: the other head's examples."""
    label_id = {label: i for i, label in enumerate(labels)}
    return torch.tensor([_IGNORE] * before + [label_id[e.label] for e in examples] + [_IGNORE] * after)


def head_loss(logits: torch.Tensor, gold: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Cross-entropy over the rows this head has a label for; zero for a batch with none of them."""
    mine = gold != _IGNORE
    if not mine.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[mine], gold[mine], label_smoothing=smoothing)


def _epoch_score(record: dict) -> float:
    """What early stopping maximises: the mean validation F1 (macro for classes, entity-level for tags) of
    the heads that have validation data (minus the training loss when none has)."""
    scores = [record[k] for k in ("val_macro_f1", "val_sentiment_macro_f1", "val_entity_f1") if k in record]
    return sum(scores) / len(scores) if scores else -record["loss"]


def _tag_names(examples: list[Example]) -> list[str]:
    """BIO tags over every annotated entity type; none at all switches the entity head off."""
    types = sorted({e.type for ex in examples for e in ex.entities})
    return ["O"] + [f"{prefix}-{t}" for t in types for prefix in ("B", "I")] if types else []


def _tag_targets(examples: list[Example], inputs: InputEncoder, tags: list[str]) -> list[list[int]]:
    """Per example, the gold tag id of each token: at the first piece of each word (see
    `kefu.entities.tagging`); other pieces and special tokens are ignored by the loss."""
    tag_id = {t: i for i, t in enumerate(tags)}
    offsets = inputs.token_offsets([e.text for e in examples])
    return [word_targets(ex.text, off, ex.entities, tag_id, _IGNORE) for ex, off in zip(examples, offsets, strict=True)]


def _pad_tags(targets: list[list[int] | None], batch_ids: list[list[int]]) -> torch.Tensor:
    """(b, t) gold tags aligned with the padded batch; a text changed by augmentation is all "O" (id 0),
    a sentiment example (None: nobody annotated its entities) is ignored."""
    width = max(len(ids) for ids in batch_ids)
    gold = torch.full((len(targets), width), _IGNORE, dtype=torch.long)
    for row, (tags, ids) in enumerate(zip(targets, batch_ids, strict=True)):
        if tags is None:
            continue
        if len(tags) == len(ids):
            gold[row, : len(tags)] = torch.tensor(tags)
        else:
            gold[row, 1 : len(ids) - 1] = 0
    return gold


def canonical(examples: list[Example]) -> list[Example]:
    """Every spelling of out-of-scope (`oos`, ...) becomes one label, in training and validation alike."""
    return [e if canonical_label(e.label) == e.label else replace(e, label=OOS_LABEL) for e in examples]


def oos_threshold(
    model: Model, val_examples: list[Example], probs: torch.Tensor | None, cfg: TrainConfig
) -> Threshold | None:
    if cfg.oos_threshold is not None:
        return Threshold(cfg.oos_threshold, "config", 0)
    if not val_examples or probs is None:
        return None
    return choose_threshold(probs.numpy(), model.labels, [e.label for e in val_examples], cfg.oos_reject_rate)


def _trainable_state(net: IntentNetwork) -> dict[str, torch.Tensor]:
    """A copy of every weight that can change (a frozen pretrained part never does: no need to copy it)."""
    frozen = net.frozen_keys()
    return {k: v.detach().clone() for k, v in net.state_dict().items() if k not in frozen}


def shared_outputs(
    model: Model, texts: list[str], batch_size: int, encoded: tuple[list, list], lower: list[torch.Tensor] | None
) -> HeadOutputs:
    """`Model.outputs`, each process of a distributed run computing its share of the texts: every one gets
    them all back, in order, so all compute the same scores and stop at the same epoch."""
    if not distributed.active():
        return model.outputs(texts, batch_size, encoded, lower)
    mine = distributed.share(len(texts))

    def pick(values: list | None) -> list | None:
        return [values[i] for i in mine] if values is not None else None

    part = model.outputs(pick(texts), batch_size, (pick(encoded[0]), pick(encoded[1])), pick(lower))
    tagged = bool(model.network.cfg.tags)
    rows = [
        (
            part.intent[r],
            part.sentiment[r] if part.sentiment is not None else None,
            part.tags[r] if tagged else None,
            part.spans[r] if tagged else None,
        )
        for r in range(len(mine))
    ]
    intent, sentiment, tags, spans = zip(*distributed.gather_shares(rows, len(texts)), strict=True)
    return HeadOutputs(
        torch.stack(intent),
        torch.stack(sentiment) if model.sentiments else None,
        list(tags) if tagged else [],
        list(spans) if tagged else [],
    )
