"""Training on several processes with PyTorch DistributedDataParallel, on one machine or on several.

`kefu train DATA --out DIR --nproc N` starts N processes on this machine through `torch.distributed.run`
(as `torchrun --standalone` does); on several machines each one runs `torchrun ... -m kefu train ...`
(see the README). Every process holds the whole network, trains on its share of each epoch's rows and
averages its gradients with the others' after every step, so all of them keep identical weights. Rank 0
alone writes checkpoints and the model.

The processes talk over gloo: kefu trains on CPUs, and NCCL only moves GPU tensors (nor has it a working
all-reduce of sparse gradients, which the n-gram table's are: pytorch/pytorch#22400). Gloo reduces them.

From Python, in a script started by torchrun::

    with distributed.session():
        model = fit(examples, cfg)
    if distributed.is_main():
        model.save("models/bank")
"""

import ctypes
import logging
import math
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

from kefu.errors import KefuError

BACKEND = "gloo"
T = TypeVar("T")


def launched() -> bool:
    """True in a process started by torchrun (or `--nproc`): one rank of a job."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def active() -> bool:
    """True while this process trains together with others."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: 0 alone, or before it joined its job (then torchrun's RANK)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched() else 0


def world() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ["WORLD_SIZE"]) if launched() else 1


def is_main() -> bool:
    """True in the one process that speaks and writes files (rank 0)."""
    return rank() == 0


@contextmanager
def session() -> Iterator[None]:
    """Join the process group of the torchrun job this process belongs to, and leave it at the end; a
    no-op in a plain process, or when the group is already up."""
    if not launched() or world() == 1 or dist.is_initialized():
        yield
        return
    _die_with_launcher()
    # torchrun sets OMP_NUM_THREADS=1; the cores are better split among this machine's processes
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    # Ctrl-C (the launcher passes it on) ends a rank at once: caught, it would leave the others waiting in
    # a collective until the launcher kills them; the checkpoints keep the run
    interrupt = signal.signal(signal.SIGINT, signal.SIG_DFL)
    dist.init_process_group(BACKEND)
    try:
        yield
    finally:
        dist.destroy_process_group()
        signal.signal(signal.SIGINT, interrupt)


def _die_with_launcher() -> None:
    """Have Linux kill this process when its launcher dies. torchrun starts each rank in a session of its
    own, so after a `kill -9` of the launcher the ranks would train on, orphaned, and write checkpoints
    into the directory a `--resume` run is reading."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def launch(nproc: int, args: list[str]) -> int:
    """Run `kefu ARGS` as `nproc` processes of one job on this machine, until all have finished: 0, or the
    exit code of the first that failed (which has said why). Ctrl-C stops them all: KeyboardInterrupt."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    # torchrun would set 1 and print a banner about it; session() chooses the real number anyway
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # the launcher's log lines would only repeat, in log format, what the processes say themselves
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        torchrun(["--standalone", f"--nproc-per-node={nproc}", "-m", "kefu", *args])
    except ChildFailedError as e:
        failed, failure = e.get_first_failure()
        if failure.exitcode < 0:
            signal_name = failure.signal_name()
            raise KefuError(f"training process {failed} of {nproc} was killed ({signal_name})") from None
        return failure.exitcode
    except SignalException as e:
        if e.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise KefuError(f"training stopped by {e.sigval.name}") from None
    return 0


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj`, on every rank (other ranks' `obj` is ignored)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order."""
    if not active():
        return [obj]
    out: list = [None] * world()
    dist.all_gather_object(out, obj)
    return out


def from_main(build: Callable[[], T], dump: Callable[[T], object], load: Callable[[object], T]) -> T:
    """`build()` on rank 0 only, sent to the others as `dump` of it and rebuilt there with `load`: every
    rank then has the very same object (a tokenizer, say), and only one paid for building it."""
    if not active():
        return build()
    if is_main():
        built = build()
        broadcast_object(dump(built))
        return built
    return load(broadcast_object(None))


def main_or_raise(work: Callable[[], T]) -> T:
    """`work()` on rank 0, its result (or the KefuError it raised) on every rank: a refusal that rank 0
    alone can decide (it holds the checkpoints) stops every rank with the same message, not some with
    a lost connection."""
    if not active():
        return work()
    outcome: object = None
    if is_main():
        try:
            outcome = work()
        except KefuError as e:
            outcome = e
    outcome = broadcast_object(outcome)
    if isinstance(outcome, KefuError):
        raise outcome
    return outcome  # type: ignore[return-value]


def mean(value: float) -> float:
    """The mean of `value` over the ranks."""
    if not active():
        return value
    total = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(total)
    return total.item() / world()


def wrap(net: nn.Module, unused_weights: bool = False) -> nn.Module:
    """`net` for the training steps: under DDP when several processes train, else `net` itself.
    `unused_weights`: some trainable weights never get a gradient (DDP then looks for them every step).
    """
    if not active():
        return net
    # No buffer ever changes: none to sync before each step. (static_graph=True would spare the search for
    # unused weights, but its first steps' gradients differ from one process's: measured, 1e-3 after one.)
    return nn.parallel.DistributedDataParallel(
        net, forward_sync_buffers=False, find_unused_parameters=unused_weights
    )


def rngs(seed: int) -> tuple[random.Random, random.Random]:
    """(this rank's generator, the one every rank shares). One process has one generator; under DDP each
    rank shuffles and augments its own rows, but all must agree on which rows an epoch has."""
    shared = random.Random(seed)
    return (random.Random(f"{seed}/{rank()}"), shared) if active() else (shared, shared)


def shard(rows: list[int], epoch: int, seed: int) -> list[int]:
    """This rank's rows of an epoch: a different share each epoch, as many for every rank (a few rows
    are repeated to even them out), so all ranks take the same number of steps."""
    if not active():
        return rows
    sampler = DistributedSampler(rows, num_replicas=world(), rank=rank(), shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return [rows[i] for i in sampler]


def local_batch_size(batch_size: int) -> int:
    """Rows per step on each rank: together they make `batch_size` (the global batch; rounded down to a
    multiple of the number of processes), so one process's settings carry over to any number."""
    return max(1, batch_size // world())


def steps_per_epoch(n_rows: int, batch_size: int) -> int:
    return math.ceil(math.ceil(n_rows / world()) / local_batch_size(batch_size))


def share(n: int) -> list[int]:
    """This rank's indices of `n` items to share out (every world()-th, from its rank)."""
    return list(range(rank(), n, world()))


def gather_shares(values: list[T], n: int) -> list[T]:
    """The values every rank computed for its `share(n)`, put together in item order on every rank."""
    if not active():
        return values
    out: list = [None] * n
    for r, part in enumerate(all_gather_object(values)):
        out[r::world()] = part
    return out
