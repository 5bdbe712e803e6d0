"""Distillation: a small, fast student trained from a fine-tuned teacher's soft labels, on the labelled
data plus unlabelled text (see `kefu.training.teacher` for the loss).

The usual pair: an e5-small teacher (accurate, ~40 ms a message in PyTorch) and a from-scratch student
(a few ms). The student keeps its own tokenizer and n-gram features, learned from the labelled and the
unlabelled texts alike.
"""

from collections.abc import Callable

from kefu.data import Example
from kefu.nlu.model import Model
from kefu.training.config import TrainConfig
from kefu.training.teacher import Teacher
from kefu.training.trainer import fit


def distill(
    teacher: Model,
    examples: list[Example],
    unlabelled: list[str],
    config: TrainConfig | None = None,
    val_examples: list[Example] | None = None,
    temperature: float = 2.0,
    weight: float = 1.0,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
) -> Model:
    """Train a student with `config` (default: the from-scratch encoder's defaults) on `examples` and on
    `teacher`'s probabilities for them and for `unlabelled` texts; early stopping on `val_examples`."""
    cfg = config or TrainConfig.for_encoder("scratch")
    coach = Teacher(teacher, list(unlabelled), temperature, weight)
    student = fit(examples, cfg, val_examples=val_examples, progress=progress, on_epoch=on_epoch, teacher=coach)
    student.metrics["distillation"] = {
        "teacher_encoder": teacher.train_config.get("encoder"),
        "n_unlabelled": len(coach.unlabelled),
        "temperature": temperature,
        "weight": weight,
    }
    return student
