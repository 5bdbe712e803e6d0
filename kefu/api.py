"""The Python API: `kefu.train(...)` and `kefu.load(dir)`."""

import logging
from pathlib import Path

from kefu.nlu.model import Model
from kefu.training import Data, TrainConfig
from kefu.training import train as run_training
from kefu.training.run import Source

log = logging.getLogger("kefu")


def train(
    data: Source,
    config: TrainConfig | None = None,
    val: Source | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    progress: bool = False,
) -> Model:
    """Train an intent model from a data file (CSV/TSV/JSONL/YAML) or a list of `Example`s.

    Examples that cannot be trained on (empty, duplicated, labelled two ways) are left out, as `kefu train`
    leaves them out, and each is logged as a warning on the ``kefu`` logger.
    """
    checked = Data.load(data, val, text_col=text_col, label_col=label_col)
    for warning in checked.warnings:
        log.warning("%s", warning.located())
    return run_training(checked, config, progress=progress)


def load(model_dir: str | Path) -> Model:
    """Load a model directory written by `Model.save`."""
    return Model.load(model_dir)
