"""The Python API: `kefu.train(...)` and `kefu.load(dir)`."""

from pathlib import Path

from kefu.data import Example, load_dataset
from kefu.nlu.model import Model
from kefu.training import TrainConfig, fit


def _examples(data: str | Path | list[Example], text_col: str | None, label_col: str | None) -> list[Example]:
    if isinstance(data, (str, Path)):
        return load_dataset(data, text_col=text_col, label_col=label_col)[0]
    return list(data)


def train(
    data: str | Path | list[Example],
    config: TrainConfig | None = None,
    val: str | Path | list[Example] | None = None,
    text_col: str | None = None,
    label_col: str | None = None,
    progress: bool = False,
) -> Model:
    """Train an intent model from a data file (CSV/TSV/JSONL/YAML) or a list of `Example`s."""
    val_examples = _examples(val, text_col, label_col) if val is not None else None
    return fit(_examples(data, text_col, label_col), config, val_examples=val_examples, progress=progress)


def load(model_dir: str | Path) -> Model:
    """Load a model directory written by `Model.save`."""
    return Model.load(model_dir)
