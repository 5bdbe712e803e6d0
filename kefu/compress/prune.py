"""Structured pruning: remove whole attention heads and feed-forward neurons by importance, then fine-tune
briefly to win back what was lost.

1. Importance, from a few hundred batches of training data (gradients only, no weight changes). Each
   head and each feed-forward neuron gets a gate g = 1 on its output; its score is the sum over examples
   of |dL/dg|: for a head that is Michel et al. (2019)'s head-mask gradient, for a neuron the first-order
   Taylor estimate |sum over tokens of a * dL/da| (Molchanov et al., 2017). Both estimate how much the
   loss would change without the unit. L is the intent head's cross-entropy on the gold labels plus the
   sentiment and entity heads' cross-entropy on their own predictions (there are no labels for them
   here), so units only those heads rely on count too.
2. Selection: scores are L2-normalised within each layer (as Michel et al.: raw gradient sizes differ a
   lot between layers), then ranked across all layers together; the lowest `heads` fraction of all heads
   and `ffn` fraction of all neurons go, but every layer keeps at least one of each.
3. The cut: weight matrices are sliced (`kefu.nlu.slicing`), so the model is smaller and faster.
4. Recovery: `epochs` of fine-tuning of every encoder layer and head, with cross-entropy on the gold
   intents mixed with distillation from the unpruned model's logits (Hinton et al., 2015), recorded in
   step 1. The sentiment and entity heads have no labels here: distillation alone keeps them in step
   with the changed encoder.

A pretrained encoder's layers are no longer the wheel's after the cut, so every layer learns in recovery
and is saved in the artifact; `NetworkConfig.pruned` records their shapes for `Model.load`. The
embeddings are not pruned: they stay frozen and still come from the wheel.
"""

import copy
import math
import random
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from kefu.data import Example, stratified_split
from kefu.errors import ConfigError, DataError
from kefu.nlu.backbone import PretrainedBackbone
from kefu.nlu.model import Model, pad_states
from kefu.nlu.network import IntentNetwork, Outputs
from kefu.nlu.slicing import Layer, layer_params, layers, shapes
from kefu.nlu.train_config import TrainConfig
from kefu.training.teacher import distillation_loss
from kefu.training.trainer import (
    Optimizer,
    cache_lower,
    canonical,
    epoch_progress,
    head_loss,
    length_buckets,
    oos_threshold,
    train_epoch,
    validation_scores,
)

TEMPERATURE = 2.0  # distillation: softened probabilities carry the teacher's second choices too


@dataclass
class Importance:
    heads: list[torch.Tensor]  # per layer, a score per attention head
    ffn: list[torch.Tensor]  # per layer, a score per feed-forward neuron


@dataclass
class _Teacher:
    """The unpruned network's logits on every training example."""

    intent: torch.Tensor  # (n, n_intents)
    sentiment: torch.Tensor | None  # (n, n_sentiments)
    tags: list[torch.Tensor] | None  # per example, (tokens, n_tags)


class _Gates:
    """While active, multiplies the input of each layer's `attn_out` (per head) and `ff_out` (per neuron)
    by a gate of ones per example, whose gradient scores the unit."""

    def __init__(self, found: list[Layer]):
        self.gates: list[torch.Tensor] = []  # this batch's: heads then neurons of layer 0, then layer 1, ...
        self.handles = []
        for layer in found:
            self.handles.append(layer.attn_out.register_forward_pre_hook(self._hook(layer.heads)))
            self.handles.append(layer.ff_out.register_forward_pre_hook(self._hook(layer.width)))

    def _hook(self, units: int):
        def gate(module, args):
            x = args[0]  # (b, t, units * unit size)
            g = torch.ones(x.shape[0], 1, units, 1, dtype=x.dtype, requires_grad=True)
            self.gates.append(g)
            return ((x.unflatten(-1, (units, -1)) * g).flatten(-2),)

        return gate

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _score(
    net: IntentNetwork,
    model: Model,
    texts: list[str],
    ids: list[list[int]],
    gold: torch.Tensor,
    batch_size: int,
    score_batches: int,
    progress: bool,
) -> tuple[Importance, _Teacher]:
    """Every unit's importance on up to `score_batches` batches of the examples, and the network's logits
    for all of them (it is still unpruned)."""
    found = layers(net.encoder)
    heads = [torch.zeros(layer.heads) for layer in found]
    ffn = [torch.zeros(layer.width) for layer in found]
    teacher = _Teacher(
        torch.empty(len(texts), len(model.labels)),
        None,
        [None] * len(texts) if net.tagger is not None else None,
    )
    if net.sentiment is not None:
        teacher.sentiment = torch.empty(len(texts), len(model.sentiments))
    order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    # batches of similar length (little padding) in random order: scores from the first `score_batches`
    # then stand for texts of every length
    random.Random(0).shuffle(batches)
    gates = _Gates(found)
    net.eval()  # no dropout: the gradients are those of the model as it predicts
    try:
        with (
            Progress(
                TextColumn("scoring heads and neurons"),
                BarColumn(),
                TimeRemainingColumn(),
                disable=not progress,
            ) as bar,
        ):
            task = bar.add_task("score", total=len(order))
            for n, rows in enumerate(batches):
                batch = model.inputs.batch([texts[i] for i in rows], [ids[i] for i in rows])
                gates.gates.clear()
                scoring = n < score_batches
                with torch.set_grad_enabled(scoring):
                    out = net(batch)
                if scoring:
                    loss = F.cross_entropy(out.intent, gold[rows], reduction="sum")
                    loss = loss + _own_prediction_loss(out, batch.keep)
                    grads = torch.autograd.grad(loss, gates.gates)
                    for i in range(len(found)):
                        heads[i] += grads[2 * i].abs().sum((0, 1, 3))
                        ffn[i] += grads[2 * i + 1].abs().sum((0, 1, 3))
                teacher.intent[rows] = out.intent.detach()
                if out.sentiment is not None:
                    teacher.sentiment[rows] = out.sentiment.detach()
                if out.tags is not None:
                    for r, i in enumerate(rows):
                        teacher.tags[i] = out.tags[r, : len(ids[i])].detach()
                bar.update(task, advance=len(rows))
    finally:
        gates.remove()
    return Importance(heads, ffn), teacher


def _own_prediction_loss(out: Outputs, keep: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the sentiment and entity heads on their own predictions (0 without them); the
    entity head's is averaged over each text's tokens, so a long text counts as much as a short one."""
    loss = torch.zeros(())
    if out.sentiment is not None:
        loss = loss + F.cross_entropy(out.sentiment, out.sentiment.argmax(-1), reduction="sum")
    if out.tags is not None:
        per_token = F.cross_entropy(out.tags.transpose(1, 2), out.tags.argmax(-1), reduction="none") * keep
        loss = loss + (per_token.sum(1) / keep.sum(1).clamp(min=1)).sum()
    return loss


def select(importance: Importance, heads: float, ffn: float) -> list[tuple[list[int], list[int]]]:
    """Per layer, the heads and neurons to keep (ascending) when the least important `heads` and `ffn`
    fractions of all of them go."""
    keep_heads, keep_ffn = _keep(importance.heads, heads), _keep(importance.ffn, ffn)
    return list(zip(keep_heads, keep_ffn, strict=True))


def _keep(scores: list[torch.Tensor], fraction: float) -> list[list[int]]:
    normed = [s / s.norm().clamp(min=1e-12) for s in scores]
    for s in normed:
        s[s.argmax()] = math.inf  # each layer's best unit always stays
    flat = torch.cat(normed)
    layer_of = torch.cat([torch.full((len(s),), i) for i, s in enumerate(normed)])
    unit_of = torch.cat([torch.arange(len(s)) for s in normed])
    n_drop = min(round(fraction * len(flat)), len(flat) - len(normed))
    drop = torch.argsort(flat, stable=True)[:n_drop]
    dropped = {(int(layer_of[i]), int(unit_of[i])) for i in drop}
    return [[u for u in range(len(s)) if (i, u) not in dropped] for i, s in enumerate(normed)]


def cut(net: IntentNetwork, keep: list[tuple[list[int], list[int]]]) -> None:
    """Slice every encoder layer down to its kept heads and neurons, and record the shapes in `net.cfg`."""
    found = layers(net.encoder)
    if len(keep) != len(found):
        raise ValueError(f"{len(keep)} layers to keep, the encoder has {len(found)}")
    for layer, (heads, neurons) in zip(found, keep, strict=True):
        if not heads or not neurons:
            raise ValueError("every layer keeps at least one head and one neuron")
        layer.keep(heads, neurons)
    net.cfg = replace(net.cfg, pruned=shapes(net.encoder))


def student(model: Model) -> Model:
    """A copy of `model` to prune, in which every encoder layer can learn (a pretrained encoder's frozen
    embeddings are shared with `model`, not copied: they are most of its weights and never change)."""
    net = model.network
    shared: dict = {}
    if isinstance(net.encoder, PretrainedBackbone) and net.encoder.frozen_embeddings:
        shared = {id(p): p for p in net.encoder.bert.embeddings.parameters()}
    new = copy.deepcopy(net, shared)
    if isinstance(new.encoder, PretrainedBackbone):
        # all layers but no embeddings, unless the model was trained with its embeddings too (-1)
        train = -1 if net.cfg.train_layers < 0 else len(new.encoder.bert.encoder.layer)
        new.encoder = PretrainedBackbone(new.encoder.bert, train)
        new.cfg = replace(new.cfg, train_layers=train)
    return Model(
        new,
        model.inputs,
        model.labels,
        replace(model.train_config),
        dict(model.metrics),
        model.oos,
        model.rules_config,
    )


def importance(
    model: Model,
    examples: list[Example],
    batch_size: int = 32,
    score_batches: int = 300,
    progress: bool = False,
) -> Importance:
    """Every head's and feed-forward neuron's importance to `model` on `examples` (see the module docstring)."""
    examples = canonical(examples)
    texts = [e.text for e in examples]
    return _score(
        student(model).network,
        model,
        texts,
        model.inputs.token_ids(texts),
        _gold(model, examples),
        batch_size,
        score_batches,
        progress,
    )[0]


def prune(
    model: Model,
    examples: list[Example],
    heads: float = 0.5,
    ffn: float = 0.5,
    epochs: int = 1,
    val_examples: list[Example] | None = None,
    distill: float = 0.5,
    batch_size: int | None = None,
    score_batches: int = 300,
    progress: bool = False,
) -> Model:
    """A pruned copy of `model`: the least important `heads` fraction of its attention heads and `ffn`
    fraction of its feed-forward neurons removed, then `epochs` of recovery on `examples` (0: none).

    `examples` should be the data `model` was trained on. Without `val_examples`, the model's own
    `val_fraction` of them is held out with its seed: the split its training made, so validation stays
    unseen. `distill` weighs distillation from the unpruned model against the gold labels (0: labels only).
    Importance is summed over `score_batches` batches (of `batch_size`, default the model's) at most.
    """
    check_settings(heads, ffn, epochs, distill)
    started = time.perf_counter()
    cfg = model.train_config
    batch_size = batch_size or cfg.batch_size
    if val_examples is None and cfg.val_fraction > 0:
        examples, val_examples = stratified_split(examples, cfg.val_fraction, cfg.seed)
    examples, val_examples = canonical(examples), canonical(val_examples or [])
    gold = _gold(model, examples)
    texts = [e.text for e in examples]
    ids = model.inputs.token_ids(texts)

    pruned = student(model)
    # the original's validation scores would describe a model this no longer is
    pruned.metrics = {k: v for k, v in pruned.metrics.items() if not k.startswith("val_")}
    net = pruned.network
    before = layer_params(net.encoder)
    scores, teacher = _score(net, model, texts, ids, gold, batch_size, score_batches, progress)
    cut(net, select(scores, heads, ffn))
    history = (
        _recover(pruned, texts, ids, gold, teacher, cfg, epochs, distill, batch_size, progress)
        if epochs
        else []
    )

    report = {
        "heads": heads,
        "ffn": ffn,
        "epochs": epochs,
        "distill": distill,
        "history": history,
        "layer_params_before": before,
        "layer_params_after": layer_params(net.encoder),
    }
    if val_examples:
        val_texts = [e.text for e in val_examples]
        report["val_macro_f1_before"], report["val_accuracy_before"] = validation_scores(
            model.predict_proba(val_texts), model.labels, val_examples
        )
        probs = pruned.predict_proba(val_texts)
        pruned.metrics["val_macro_f1"], pruned.metrics["val_accuracy"] = validation_scores(
            probs, model.labels, val_examples
        )
        pruned.oos = oos_threshold(pruned, val_examples, probs, cfg) or model.oos
    report["seconds"] = time.perf_counter() - started
    pruned.metrics["pruning"] = report
    return pruned


def check_settings(heads: float, ffn: float, epochs: int, distill: float = 0.5) -> None:
    """ConfigError unless `prune` can work with these settings."""
    if not (0 <= heads < 1 and 0 <= ffn < 1):
        raise ConfigError(
            f"heads = {heads}, ffn = {ffn}: the fractions to remove must be at least 0 and below 1"
        )
    if epochs < 0 or not 0 <= distill <= 1:
        raise ConfigError(f"epochs = {epochs}, distill = {distill}: need epochs >= 0 and distill in [0, 1]")


def _gold(model: Model, examples: list[Example]) -> torch.Tensor:
    label_id = {label: i for i, label in enumerate(model.labels)}
    unknown = sorted({e.label for e in examples} - set(label_id))
    if unknown:
        raise DataError(
            f"{len(unknown)} intents the model does not know (e.g. {unknown[0]!r}): "
            "prune with the data it was trained on"
        )
    return torch.tensor([label_id[e.label] for e in examples])


def _distill(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The unpruned model as teacher, from its logits (see `kefu.training.teacher.distillation_loss`)."""
    return distillation_loss(student_logits, F.softmax(teacher_logits / TEMPERATURE, -1), TEMPERATURE)


def _recover(
    model: Model,
    texts: list[str],
    ids: list[list[int]],
    gold: torch.Tensor,
    teacher: _Teacher,
    cfg: TrainConfig,
    epochs: int,
    distill: float,
    batch_size: int,
    progress: bool,
) -> list[dict]:
    """Fine-tune the pruned network; returns each epoch's mean loss."""
    net, inputs = model.network, model.inputs
    lengths = [len(s) for s in ids]
    steps = math.ceil(len(texts) / batch_size)
    opt = Optimizer(net, cfg, steps * epochs)
    # the frozen embeddings' output is the same every epoch: compute it once, as the trainer does
    lower = cache_lower(net, inputs, ids, progress) if getattr(net.encoder, "caches_lower", False) else None
    rng = random.Random(cfg.seed)

    def batch_loss(rows: list[int]) -> torch.Tensor:
        batch = inputs.batch([texts[i] for i in rows], [ids[i] for i in rows])
        out = net(batch, lower=pad_states([lower[i] for i in rows]) if lower is not None else None)
        loss = (1 - distill) * head_loss(out.intent, gold[rows], cfg.label_smoothing)
        loss = loss + distill * _distill(out.intent, teacher.intent[rows])
        if out.ngram_intent is not None:
            loss = loss + head_loss(out.ngram_intent, gold[rows], cfg.label_smoothing)
        if out.sentiment is not None:
            loss = loss + _distill(out.sentiment, teacher.sentiment[rows])
        if out.tags is not None:
            target = pad_states([teacher.tags[i] for i in rows])
            loss = loss + _distill(out.tags[batch.keep], target[batch.keep])
        return loss

    history = []
    bar, task = epoch_progress(
        "recovery epoch ", "loss {task.fields[loss]:.3f}", steps * epochs, epochs, not progress, loss=0.0
    )
    with bar:
        for epoch in range(1, epochs + 1):
            batches = length_buckets(list(range(len(texts))), lengths, batch_size, rng)
            running = train_epoch(
                net, opt, batches, batch_loss,
                lambda loss, epoch=epoch: bar.update(task, advance=1, epoch=epoch, loss=loss),
            )
            history.append({"epoch": epoch, "loss": running / len(batches)})
    return history
