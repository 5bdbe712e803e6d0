"""A small intent data set and settings for the distributed-training and checkpoint tests, and the body
of the worker processes they spawn (which must import it by name)."""

import csv
import hashlib
import os
import random
from pathlib import Path

import torch

from kefu.data import Example

# Templates x items: test sentences combine seen templates and items in unseen ways.
INTENTS = {
    "refund": ["i want a refund for the {x}", "give me my money back for the {x}", "refund my {x} please",
               "the {x} was bad, i want my money", "can i return the {x} for a refund"],
    "track": ["where is my {x}", "track the {x} i ordered", "has the {x} shipped yet",
              "when will my {x} arrive", "the {x} is late, where is it"],
    "cancel": ["cancel the {x} order", "i do not want the {x} anymore, cancel it", "stop my {x} order",
               "please cancel my order of the {x}", "can i still cancel the {x}"],
    "pay": ["my card was declined for the {x}", "can i pay for the {x} with paypal",
            "payment for the {x} failed", "how do i pay for the {x}", "i was charged twice for the {x}"],
    "size": ["does the {x} come in large", "what size is the {x}", "is the {x} too small for me",
             "which size of {x} should i get", "do you have the {x} in small"],
    "stock": ["is the {x} in stock", "when is the {x} available again", "the {x} is sold out, when is it back",
              "do you still sell the {x}", "will you restock the {x}"],
}
ITEMS = ["shoes", "jacket", "phone", "lamp", "watch", "bag", "shirt", "laptop", "camera", "chair", "hat",
         "scarf"]
# a small network, epochs long enough to learn the task in seconds
CONFIG = {"dim": 32, "layers": 1, "heads": 2, "epochs": 10, "patience": 3, "batch_size": 16, "lr": 0.004,
          "vocab_size": 300, "val_fraction": 0.15, "seed": 3}


def examples(test: bool) -> list[Example]:
    """A quarter of all (template, item) pairs are test sentences, the rest training ones."""
    rows = [Example(t.format(x=x), label) for label, ts in INTENTS.items() for t in ts for x in ITEMS]
    random.Random(0).shuffle(rows)
    cut = len(rows) // 4
    return rows[:cut] if test else rows[cut:]


def write_csv(path: Path, rows: list[Example]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        writer.writerows([e.text, e.label] for e in rows)
    return path


def accuracy(model, rows: list[Example]) -> float:
    predicted = model.predict_proba([e.text for e in rows]).argmax(-1).tolist()
    return sum(model.labels[p] == e.label for p, e in zip(predicted, rows, strict=True)) / len(rows)


def state_digest(model) -> str:
    """A hash of every weight: equal digests mean identical networks."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def fixed_steps(batches: list[list[int]]) -> dict[str, torch.Tensor]:
    """The weights after training a fresh network (n-gram table and all, no dropout) on `batches` of the
    training rows, one optimiser step each: under DDP when a job is running."""
    from kefu.nlu.encoder import EncoderConfig
    from kefu.nlu.inputs import InputEncoder
    from kefu.nlu.network import IntentNetwork, NetworkConfig
    from kefu.text.ngrams import NgramFeaturizer
    from kefu.text.tokenizer import train_tokenizer
    from kefu.training import TrainConfig, distributed
    from kefu.training.trainer import Optimizer, _targets, head_loss

    cfg = TrainConfig(**(CONFIG | {"dropout": 0.0}))
    rows = examples(test=False)
    texts, labels = [e.text for e in rows], sorted({e.label for e in rows})
    tokenizer, ngrams = train_tokenizer(texts, vocab_size=cfg.vocab_size), NgramFeaturizer().fit(texts)
    inputs = InputEncoder(tokenizer, ngrams, cfg.max_len)
    torch.manual_seed(0)
    vocab = tokenizer.get_vocab_size()
    encoder = EncoderConfig(vocab, cfg.max_len, cfg.dim, cfg.layers, cfg.heads, dropout=0.0)
    net = IntentNetwork(NetworkConfig(encoder, len(labels), ngrams.size)).train()
    opt, targets, train_net = Optimizer(net, cfg, 100), _targets(rows, labels, 0, 0), distributed.wrap(net)
    for batch in batches:
        out = train_net(inputs.batch([texts[i] for i in batch]))
        opt.step(head_loss(out.intent, targets[batch], cfg.label_smoothing))
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


# 8 steps of 16 rows: rank r of a 2-process job takes rows r*8 to r*8+8 of each
GLOBAL_BATCHES = [list(range(16 * s, 16 * s + 16)) for s in range(8)]


class StopAfter(Exception):
    """A run dying right after a checkpoint is written."""


def ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    """One rank of a 2-process job, run by torch.multiprocessing. Writes to the folder `out`:
    steps.safetensors, the weights after `GLOBAL_BATCHES` (rank 0); saved-by-RANK, by each rank that
    saved a model when `kefu train` ran in this job; result-RANK.json, digests of an uninterrupted run and
    of the same run stopped after its epoch-2 checkpoint and resumed."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
        LOCAL_WORLD_SIZE=str(world), HF_HUB_OFFLINE="1",
    )
    import json

    from safetensors.torch import save_file
    from typer.testing import CliRunner

    from kefu.cli import app
    from kefu.nlu.model import Model
    from kefu.training import TrainConfig, distributed, fit
    from kefu.training.checkpoint import Checkpoints

    folder = Path(out)
    cfg = TrainConfig(**CONFIG)
    train = examples(test=False)
    with distributed.session():
        state = fixed_steps([batch[rank * 8 : rank * 8 + 8] for batch in GLOBAL_BATCHES])
        if rank == 0:
            save_file(state, str(folder / "steps.safetensors"))

        save_model = Model.save

        def recorded_save(self, out_dir):
            (folder / f"saved-by-{rank}").touch()
            return save_model(self, out_dir)

        Model.save = recorded_save
        settings = folder / f"cfg-{rank}.json"  # a file per rank: neither reads what the other is writing
        settings.write_text(json.dumps(CONFIG))
        data = write_csv(folder / f"train-{rank}.csv", train)
        command = ["train", str(data), "--out", str(folder / "model"), "--config", str(settings)]
        cli = CliRunner().invoke(app, command)
        assert cli.exit_code == 0, cli.output

        full = fit(train, cfg, progress=False)
        save_checkpoint = Checkpoints.save

        def save_then_die(self, epoch, *args):
            save_checkpoint(self, epoch, *args)
            if epoch == 2:
                raise StopAfter

        Checkpoints.save = save_then_die
        try:
            fit(train, cfg, progress=False, checkpoint_dir=folder / "ckpt")
        except StopAfter:
            pass
        Checkpoints.save = save_checkpoint
        resumed = fit(train, cfg, progress=False, checkpoint_dir=folder / "ckpt", resume=True)
    result = {
        "full": state_digest(full),
        "resumed": state_digest(resumed),
        "resumed_after": resumed.metrics["resumed_after_epoch"],
        "history_full": [[r["epoch"], r["loss"], r["val_macro_f1"]] for r in full.metrics["history"]],
        "history_resumed": [[r["epoch"], r["loss"], r["val_macro_f1"]] for r in resumed.metrics["history"]],
    }
    (folder / f"result-{rank}.json").write_text(json.dumps(result))
