"""Distributed training (DDP over gloo, 2 processes) and per-epoch checkpoints: the same training as one
process, exact resumes (also after kill -9), no pickles, and resumes of another run refused."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from typer.testing import CliRunner

from kefu.cli import app
from kefu.nlu.model import Model
from kefu.training import TrainConfig, fit
from tests.support.project import one_torch_thread
from tests.training.ddp_helpers import (
    CONFIG,
    GLOBAL_BATCHES,
    StopAfter,
    accuracy,
    ddp_worker,
    examples,
    fixed_steps,
    state_digest,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kefu_train(*args) -> subprocess.Popen:
    """`python -m kefu train ARGS` in a session of its own (so a kill reaches no one else)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kefu", "train", *map(str, args)],
        cwd=ROOT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stderr(run: subprocess.Popen) -> str:
    """What `run` wrote on stderr, once it has ended (killed with its session after 10 minutes)."""
    try:
        return run.communicate(timeout=600)[1]
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        raise


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ddp")
    write_csv(folder / "train.csv", examples(test=False))
    (folder / "cfg.json").write_text(json.dumps(CONFIG))
    return folder


@pytest.fixture(scope="module")
def launched_run(files) -> str:
    """`kefu train --nproc 2` run to the end into files/ddp; its stderr."""
    args = (files / "train.csv", "--out", files / "ddp", "--config", files / "cfg.json", "--nproc=2")
    run = _kefu_train(*args)
    err = _stderr(run)
    assert run.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    """A 2-process job spawned here, running `ddp_worker` (see there for what it leaves in the folder)."""
    folder = tmp_path_factory.mktemp("job")
    ranks = mp.start_processes(ddp_worker, (2, _free_port(), str(folder)), nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + 600
    while not ranks.join(timeout=5):  # raises when a process failed
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail("the 2-process job did not finish in 10 minutes")
    return folder


def test_a_ddp_step_is_the_single_process_step(job):
    """Each rank's half of a batch, gradients averaged (the sparse n-gram table's too): the weights after
    8 steps are those of one process stepping on the whole batches. Every weight moved by ~1e-2; they
    agree to 1e-7, but for the attention's key bias, whose gradient is rounding noise (softmax ignores it)
    that Adam scales up to 1e-5."""
    with one_torch_thread():
        single, start = fixed_steps(GLOBAL_BATCHES), fixed_steps([])
    ddp = load_file(str(job / "steps.safetensors"))
    assert ddp.keys() == single.keys()
    for name, weight in single.items():
        assert torch.allclose(ddp[name], weight, atol=1e-4), name
        assert (weight - start[name]).abs().max() > 3e-3, name


def test_only_rank_0_writes_the_model_and_every_rank_holds_the_same_weights(job):
    assert sorted(p.name for p in job.glob("saved-by-*")) == ["saved-by-0"]
    assert (job / "model" / "config.json").is_file() and not (job / "model.ckpt").exists()
    rank0, rank1 = (json.loads((job / f"result-{r}.json").read_text()) for r in (0, 1))
    assert rank0["full"] == rank1["full"] and rank0["resumed"] == rank1["resumed"]


def test_a_resumed_ddp_run_is_the_uninterrupted_run(job):
    result = json.loads((job / "result-0.json").read_text())
    assert result["resumed_after"] == 2
    assert result["history_resumed"] == result["history_full"]  # epochs 1-2 restored, the others alike
    assert result["resumed"] == result["full"]


def test_two_processes_train_as_well_as_one(files, launched_run):
    with one_torch_thread():
        single = fit(examples(test=False), TrainConfig(**CONFIG), progress=False)
    ddp = Model.load(files / "ddp")
    test = examples(test=True)
    one, two = accuracy(single, test), accuracy(ddp, test)
    assert one >= 0.9 and abs(two - one) <= 0.05, (one, two)
    assert ddp.metrics["n_train"] == single.metrics["n_train"] and ddp.metrics["val_accuracy"] == 1.0
    # rank 0 alone speaks (once), and writes: one model, its checkpoints deleted after saving it
    assert launched_run.count("training on ") == 1 and launched_run.count("saved ") == 1
    assert not (files / "ddp.ckpt").exists() and not list(files.glob(".ddp*"))


def test_a_run_killed_with_sigkill_resumes_to_the_same_model(files, launched_run):
    args = (files / "train.csv", "--out", files / "resumed", "--config", files / "cfg.json", "--nproc", 2)
    killed = _kefu_train(*args)
    checkpoints = files / "resumed.ckpt"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("epoch-*")) and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.02)
    assert killed.poll() is None and list(checkpoints.glob("epoch-*")), "no running training with a checkpoint"
    ranks = _children(killed.pid)
    os.kill(killed.pid, signal.SIGKILL)  # the launcher only: its training processes must not live on
    killed.communicate()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in ranks) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(ranks) == 2 and not any(_alive(pid) for pid in ranks)
    saved = int(next(checkpoints.glob("epoch-*")).name.split("-")[1])

    resumed = _kefu_train(*args, "--resume")
    err = _stderr(resumed)
    assert resumed.returncode == 0, err
    assert f"resuming after epoch {saved}" in err
    model, uninterrupted = Model.load(files / "resumed"), Model.load(files / "ddp")
    assert model.metrics["resumed_after_epoch"] == saved
    epochs = [(r["epoch"], r["loss"], r["val_macro_f1"]) for r in model.metrics["history"]]
    assert epochs == [(r["epoch"], r["loss"], r["val_macro_f1"]) for r in uninterrupted.metrics["history"]]
    assert state_digest(model) == state_digest(uninterrupted)
    assert not checkpoints.exists()


def test_a_resumed_run_is_the_uninterrupted_run_in_one_process(tmp_path):
    cfg, train = TrainConfig(**CONFIG), examples(test=False)

    def die_at_epoch_3(record):
        if record["epoch"] == 3:
            raise StopAfter

    with one_torch_thread():
        full = fit(train, cfg, progress=False)
        with pytest.raises(StopAfter):  # the epoch-3 checkpoint is never written: resumes after epoch 2
            fit(train, cfg, progress=False, on_epoch=die_at_epoch_3, checkpoint_dir=tmp_path)
        resumed = fit(train, cfg, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert resumed.metrics["resumed_after_epoch"] == 2
    assert [r["loss"] for r in resumed.metrics["history"]] == [r["loss"] for r in full.metrics["history"]]
    assert state_digest(resumed) == state_digest(full)
    text = ["where is my lamp"]
    assert resumed.predict_proba(text).tolist() == full.predict_proba(text).tolist()


def test_checkpoints_hold_no_pickles_and_another_run_cannot_resume_from_them(tmp_path):
    data = write_csv(tmp_path / "train.csv", examples(test=False))
    (tmp_path / "cfg.json").write_text(json.dumps(CONFIG | {"epochs": 2}))
    cfg = TrainConfig(**(CONFIG | {"epochs": 2}))
    with one_torch_thread():
        fit(examples(test=False), cfg, progress=False, checkpoint_dir=tmp_path / "m.ckpt")
    (latest,) = (tmp_path / "m.ckpt").iterdir()
    assert latest.name == "epoch-2"
    names = sorted(p.name for p in latest.iterdir())
    assert names == ["checkpoint.json", "ngrams.json", "tensors.safetensors", "tokenizer.json"]
    for path in latest.iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        else:
            assert load_file(str(path))  # safetensors: a JSON header and raw numbers; a pickle would fail
        assert b"\x80\x04\x95" not in path.read_bytes()[:4096] and not path.read_bytes().startswith(b"PK")
    meta = json.loads((latest / "checkpoint.json").read_text())
    assert meta["epoch"] == 2 and [r["epoch"] for r in meta["history"]] == [1, 2]
    assert len(meta["optimizers"]) == 2  # AdamW and the n-gram table's SparseAdam, moments in safetensors

    # the same data and settings resume (and, all epochs done, only save); another seed is another run
    args = ["train", str(data), "--out", str(tmp_path / "m"), "--config", str(tmp_path / "cfg.json")]
    with one_torch_thread():
        ok = CliRunner().invoke(app, [*args, "--resume"])
        fit(examples(test=False), cfg, progress=False, checkpoint_dir=tmp_path / "c")
    assert ok.exit_code == 0, ok.output
    assert "resuming after epoch 2" in ok.output and "resumed after epoch 2" in ok.output
    assert (tmp_path / "m" / "config.json").is_file() and not (tmp_path / "m.ckpt").exists()
    other = [*args, "--checkpoint", str(tmp_path / "c"), "--resume"]
    refused = CliRunner().invoke(app, [*other, "--seed", "4"])
    assert refused.exit_code == 1
    (line,) = refused.output.strip().splitlines()
    assert line.startswith("error: ") and "checkpoint of a run with other settings or data" in line
    refused = CliRunner().invoke(app, [*other, "--nproc", "2"])
    assert refused.exit_code == 1
    assert "written by a run of 1 training process; resume it with --nproc 1, not 2" in refused.output
