"""Per-epoch training checkpoints, and resuming a run from the latest one.

After every epoch rank 0 writes ``DIR/epoch-N/`` (into a hidden temporary directory, renamed once
complete, so a kill at any moment leaves the previous checkpoint whole), then deletes the older ones:

    checkpoint.json      epoch, history, early-stopping state, optimiser and schedule settings, the
                         random generators' states, labels, and the fingerprint of the run
    tensors.safetensors  trainable weights, the best weights so far, optimiser moments, torch generators
    tokenizer.json, ngrams.json

No pickles: as with a model directory, loading a checkpoint cannot run code. The fingerprint hashes the
training settings and data; resuming with other settings or other data is refused, not mixed in.
A run resumed from epoch N continues exactly as the uninterrupted run would have (same weights, same
optimiser moments, same random draws), on the same number of processes.
"""

import hashlib
import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kefu import __version__
from kefu.data import Example
from kefu.errors import CheckpointError
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.network import IntentNetwork
from kefu.nlu.train_config import TrainConfig
from kefu.training import distributed

FORMAT_VERSION = 1
_EPOCH_DIR = re.compile(r"epoch-(\d+)")
_TMP = ".tmp-"
_META, _TENSORS = "checkpoint.json", "tensors.safetensors"
_TOKENIZER, _NGRAMS = "tokenizer.json", "ngrams.json"


class Optimizers(Protocol):
    """What is saved of the trainer's optimiser: its parts and their learning-rate schedules."""

    parts: list[torch.optim.Optimizer]
    schedules: list[torch.optim.lr_scheduler.LRScheduler]


def fingerprint(
    cfg: TrainConfig,
    examples: list[Example],
    val_examples: list[Example] | None,
    sentiment: list[Example] | None,
    sentiment_val: list[Example] | None,
    teacher: dict | None = None,
) -> str:
    """A hash of everything that decides a run: settings and data (not where the data came from), and with
    distillation the teacher's settings and unlabelled texts (`teacher`, see `Teacher.describe`)."""

    def rows(found: list[Example] | None) -> list | None:
        if found is None:  # None (split off the training data) is not [] (no validation)
            return None
        return [[e.text, e.label, [[s.type, s.value, s.start, s.end] for s in e.entities]] for e in found]

    blob = [cfg.to_dict(), rows(examples), rows(val_examples), rows(sentiment), rows(sentiment_val), teacher]
    return hashlib.sha256(json.dumps(blob, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass
class Saved:
    """One checkpoint, read back."""

    epoch: int
    history: list[dict]
    best_score: float
    stale: int
    state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor] | None
    optimizers: list[dict]
    schedules: list[dict]
    python_rng: dict  # {"shared": state, "ranks": [state of rank 0, ...]}
    torch_rng: list[torch.Tensor]  # per rank
    tokenizer_json: str
    ngrams: dict | None


class Checkpoints:
    """The checkpoints of one run (identified by its `fingerprint`) in `directory`."""

    def __init__(self, directory: str | Path, fingerprint: str):
        self.dir = Path(directory)
        self.fingerprint = fingerprint

    def _epochs(self) -> dict[int, Path]:
        found = (_EPOCH_DIR.fullmatch(p.name) for p in self.dir.iterdir()) if self.dir.is_dir() else ()
        return {int(m.group(1)): self.dir / m.group(0) for m in found if m}

    def latest(self) -> Path | None:
        epochs = self._epochs()
        return epochs[max(epochs)] if epochs else None

    def check(self, resume: bool, world_size: int) -> int | None:
        """The epoch a resumed run would continue after (None: it starts from the beginning); a
        CheckpointError when the directory or its latest checkpoint cannot be used."""
        if self.dir.exists():
            if not self.dir.is_dir():
                raise CheckpointError(f"{self.dir}: is a file, not a checkpoint directory")
            foreign = [p.name for p in self.dir.iterdir() if not (_EPOCH_DIR.fullmatch(p.name) or _is_tmp(p))]
            if foreign:
                raise CheckpointError(
                    f"{self.dir}: holds files that are not kefu checkpoints ({foreign[0]}); "
                    "refusing to write checkpoints there"
                )
        latest = self.latest()
        if not resume or latest is None:
            return None
        meta = _read_json(latest / _META)
        if meta.get("fingerprint") != self.fingerprint:
            raise CheckpointError(
                f"{latest}: checkpoint of a run with other settings or data; cannot resume from it "
                "(train without --resume to start over)"
            )
        if meta["world_size"] != world_size:
            n = meta["world_size"]
            raise CheckpointError(
                f"{latest}: written by a run of {n} training process{'es' if n > 1 else ''}; "
                f"resume it with --nproc {n}, not {world_size}"
            )
        return int(meta["epoch"])

    def start(self, resume: bool) -> Saved | None:
        """Called by every rank before training: with `resume`, the latest checkpoint (read by rank 0,
        sent to all), or None when there is none; without, earlier checkpoints are deleted."""

        def work() -> Saved | None:
            epoch = self.check(resume, distributed.world())
            for path in self.dir.iterdir() if self.dir.is_dir() else ():
                # what a killed run was writing, and (starting afresh) what earlier runs wrote
                if _is_tmp(path) or (not resume and _EPOCH_DIR.fullmatch(path.name)):
                    shutil.rmtree(path, ignore_errors=True)
            latest = self.latest()
            return _load(latest) if epoch is not None and latest is not None else None

        return distributed.main_or_raise(work)

    def save(
        self,
        epoch: int,
        net: IntentNetwork,
        optimizers: Optimizers,
        rngs: tuple,
        history: list[dict],
        best_score: float,
        best_state: dict[str, torch.Tensor] | None,
        stale: int,
        inputs: InputEncoder,
        labels: list[str],
    ) -> None:
        """Called by every rank after each epoch (the random generators of all are saved); rank 0 writes.
        `rngs` is (this rank's python generator, the shared one)."""
        rng, shared = rngs
        states = distributed.all_gather_object((rng.getstate(), torch.get_rng_state()))
        if not distributed.is_main():
            return
        frozen = net.frozen_keys()
        tensors = {f"net.{k}": v for k, v in net.state_dict().items() if k not in frozen}
        parts = enumerate(optimizers.parts)
        flat_optimizers = [_flatten(part.state_dict(), f"opt.{i}", tensors) for i, part in parts]
        tensors |= {f"best.{k}": v for k, v in (best_state or {}).items()}
        tensors |= {f"rng.{r}": torch_state for r, (_, torch_state) in enumerate(states)}
        meta = {
            "format_version": FORMAT_VERSION,
            "kefu_version": __version__,
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "world_size": len(states),
            "history": history,
            "best_score": best_score if math.isfinite(best_score) else None,
            "has_best": best_state is not None,
            "stale": stale,
            "labels": labels,
            "optimizers": flat_optimizers,
            "schedules": [s.state_dict() for s in optimizers.schedules],
            "python_rng": {"shared": shared.getstate(), "ranks": [py_state for py_state, _ in states]},
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f"{_TMP}epoch-{epoch}-{os.getpid()}"
        final = self.dir / f"epoch-{epoch}"
        try:
            tmp.mkdir()
            save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp / _TENSORS))
            (tmp / _META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            (tmp / _TOKENIZER).write_text(inputs.tokenizer.to_str(), encoding="utf-8")
            if inputs.ngrams is not None:
                ngrams = json.dumps(inputs.ngrams.to_dict(), ensure_ascii=False)
                (tmp / _NGRAMS).write_text(ngrams, encoding="utf-8")
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            what = f"{self.dir}: cannot write the epoch-{epoch} checkpoint"
            raise CheckpointError(f"{what} ({e.strerror or e})") from None
        for n, path in self._epochs().items():
            if n != epoch:
                shutil.rmtree(path, ignore_errors=True)

    def remove(self) -> None:
        """Delete every checkpoint, and the directory when nothing else is left in it."""
        for path in self.dir.iterdir() if self.dir.is_dir() else ():
            if _EPOCH_DIR.fullmatch(path.name) or _is_tmp(path):
                shutil.rmtree(path, ignore_errors=True)
        if self.dir.is_dir() and not any(self.dir.iterdir()):
            self.dir.rmdir()


def restore(
    saved: Saved | None, cfg: TrainConfig, net: IntentNetwork, optimizers: Optimizers, rngs: tuple
) -> tuple[int, list[dict], float, dict[str, torch.Tensor] | None, int]:
    """Put a checkpoint's state back into the network, optimiser and generators (`rngs`: this rank's, the
    shared one). Returns (first epoch to train, history, best score, best weights, stale epochs): for
    `saved` None, those of a fresh start."""
    if saved is None:
        return 1, [], -math.inf, None, 0
    missing, unexpected = net.load_state_dict(saved.state, strict=False)
    if unexpected or set(missing) - net.frozen_keys():
        names = sorted(unexpected or missing)[:3]
        raise CheckpointError(f"the checkpoint's weights do not fit the network: {names}")
    for part, state in zip(optimizers.parts, saved.optimizers, strict=True):
        part.load_state_dict(state)
    for schedule, state in zip(optimizers.schedules, saved.schedules, strict=True):
        schedule.load_state_dict(state)
    rng, shared = rngs
    shared.setstate(_rng_state(saved.python_rng["shared"]))
    rng.setstate(_rng_state(saved.python_rng["ranks"][distributed.rank()]))
    torch.set_rng_state(saved.torch_rng[distributed.rank()])
    # a run that had stopped early, or had trained every epoch, has nothing left to do
    first = saved.epoch + 1 if saved.stale < cfg.patience else cfg.epochs + 1
    return first, saved.history, saved.best_score, saved.best_state, saved.stale


def _is_tmp(path: Path) -> bool:
    return path.name.startswith(_TMP)


def _rng_state(state: list) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _flatten(state: dict, prefix: str, tensors: dict[str, torch.Tensor]) -> dict:
    """An optimiser's state_dict as JSON: each tensor moves to `tensors` under a key it names instead."""
    flat: dict[str, dict] = {}
    for param, entries in state["state"].items():
        flat[str(param)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                key = f"{prefix}.{param}.{name}"
                tensors[key] = value
                value = {"tensor": key}
            flat[str(param)][name] = value
    return {"state": flat, "param_groups": state["param_groups"]}


def _unflatten(flat: dict, tensors: dict[str, torch.Tensor]) -> dict:
    state = {
        int(param): {name: tensors[v["tensor"]] if isinstance(v, dict) else v for name, v in entries.items()}
        for param, entries in flat["state"].items()
    }
    # JSON made the (beta1, beta2) tuples lists
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in flat["param_groups"]]
    return {"state": state, "param_groups": groups}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable checkpoint ({e})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a checkpoint of this kefu version ({__version__})")
    return data


def _load(path: Path) -> Saved:
    meta = _read_json(path / _META)
    try:
        tensors = load_file(str(path / _TENSORS))
        tokenizer_json = (path / _TOKENIZER).read_text(encoding="utf-8")
        ngrams_file = path / _NGRAMS
        ngrams = json.loads(ngrams_file.read_text(encoding="utf-8")) if ngrams_file.is_file() else None
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from None

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    best = meta["best_score"]
    return Saved(
        epoch=int(meta["epoch"]),
        history=meta["history"],
        best_score=-math.inf if best is None else float(best),
        stale=int(meta["stale"]),
        state=part("net."),
        best_state=part("best.") if meta["has_best"] else None,
        optimizers=[_unflatten(flat, tensors) for flat in meta["optimizers"]],
        schedules=meta["schedules"],
        python_rng=meta["python_rng"],
        torch_rng=[tensors[f"rng.{r}"] for r in range(int(meta["world_size"]))],
        tokenizer_json=tokenizer_json,
        ngrams=ngrams,
    )
