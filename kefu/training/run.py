"""The one way in to training: `kefu train`, `kefu.train(...)` and a bot project's training all call
:func:`train`, so their data is loaded, checked and cleaned alike (invalid rows are dropped, with a
warning) and checkpoints, resuming and a multi-process job work the same for each.

:func:`~kefu.training.fit` below it is the training loop alone: it takes examples as they are.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kefu.data import Example, check_examples, load_examples, sentiment_label_issues
from kefu.errors import ConfigError
from kefu.nlu.model import Model
from kefu.nlu.train_config import TrainConfig
from kefu.problems import Problem
from kefu.training import distributed
from kefu.training.checkpoint import Checkpoints, fingerprint
from kefu.training.trainer import fit

# A data file; several files checked as one data set (a project's nlu.yml and reviewed.yml); or examples.
Source = str | Path | Sequence[str | Path] | Sequence[Example]
Report = Callable[[str], None]


@dataclass
class Data:
    """What a run trains on, checked: the examples kept, and the warnings about those left out."""

    examples: list[Example]
    val: list[Example] | None = None
    sentiment: list[Example] | None = None
    warnings: list[Problem] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        data: Source,
        val: Source | None = None,
        sentiment: Source | None = None,
        text_col: str | None = None,
        label_col: str | None = None,
        strict: bool = False,
        sentiment_labels: bool = False,
    ) -> "Data":
        """Load and check each part. ``text_col``/``label_col`` name the columns of ``data`` and ``val``
        (the sentiment file's are detected on their own); ``strict`` makes warnings errors;
        ``sentiment_labels`` allows only negative/neutral/positive (a bot's handoff policy reads them)."""
        warnings: list[Problem] = []

        def checked(source: Source, columns: bool = True, also=None) -> list[Example]:
            examples, name = _read(source, text_col if columns else None, label_col if columns else None)
            kept, found = check_examples(examples, name, strict=strict, also=also)
            warnings.extend(found)
            return kept

        examples = checked(data)
        val_examples = checked(val) if val is not None else None
        moods = None
        if sentiment is not None:
            moods = checked(sentiment, columns=False, also=sentiment_label_issues if sentiment_labels else None)
        return cls(examples, val_examples, moods, warnings)


def _read(source: Source, text_col: str | None, label_col: str | None) -> tuple[list[Example], str]:
    """The examples of a source, and the name that problems about the whole data set are reported against."""
    if isinstance(source, str | Path):
        return load_examples(source, text_col, label_col), str(source)
    items = list(source)
    if items and not isinstance(items[0], Example):
        return [e for path in items for e in load_examples(path, text_col, label_col)], str(items[0])
    return items, "<memory>"


def train(
    data: Data,
    config: TrainConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    nproc: int = 1,
    command: Sequence[str] = (),
    progress: bool = False,
    on_epoch: Callable[[dict], None] | None = None,
    report: Report | None = None,
) -> Model:
    """Train a model on checked ``data``; with ``out_dir``, save it there (rank 0 of a distributed job does).

    With ``out_dir`` the state of the run is saved after every epoch in ``checkpoint_dir`` (default:
    OUT.ckpt beside it), deleted once the model is saved; ``resume`` continues from its latest checkpoint.
    ``nproc`` > 1 starts that many processes running the kefu command line ``command`` (which trains as
    this call does, without asking for processes) and waits for them, then raises :class:`JobEnded`.
    ``report`` receives what a person watching would want to know.
    """
    if nproc > 1 and distributed.launched():
        raise ConfigError("--nproc starts the training processes itself: leave it out under torchrun")
    cfg = config or TrainConfig()
    say = report or (lambda _: None)
    checkpoints = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        identity = fingerprint(cfg, data.examples, data.val, data.sentiment, None)
        checkpoints = Checkpoints(checkpoint_dir or out_dir.with_name(f"{out_dir.name}.ckpt"), identity)
    elif checkpoint_dir is not None or resume:
        raise ConfigError("checkpoints and resume go with a model directory to save to")
    if checkpoints is not None and not distributed.launched():  # in a job, fit checks on rank 0 for all
        after = checkpoints.check(resume, nproc)
        if resume:
            say(f"resuming after epoch {after} ({checkpoints.dir})" if after else "no checkpoint: training afresh")
    if nproc > 1:
        if checkpoints is None or not command:
            raise ConfigError("nproc > 1 needs a model directory to save to and the command line each process runs")
        try:
            code = distributed.launch(nproc, list(command))
        except KeyboardInterrupt:
            raise JobEnded(130, checkpoints.dir, interrupted=True) from None
        raise JobEnded(code, checkpoints.dir)
    also = f" and {len(data.sentiment)} sentiment examples" if data.sentiment else ""
    say(f"training on {len(data.examples)} examples, {len({e.label for e in data.examples})} intents{also}")
    with distributed.session():
        model = fit(
            data.examples, cfg, val_examples=data.val, progress=progress, on_epoch=on_epoch,
            sentiment=data.sentiment, checkpoint_dir=checkpoints.dir if checkpoints else None, resume=resume,
        )
    if out_dir is not None and distributed.is_main():
        model.save(out_dir)
        if not model.metrics.get("interrupted"):
            checkpoints.remove()
    return model


class JobEnded(Exception):
    """The processes of a job :func:`train` started have all ended; ``code`` is 0, or the exit status of the
    first that failed (which has said why), and ``interrupted`` tells Ctrl-C, after which a run with resume
    continues from ``checkpoints``. Raised, not returned: the launcher has no model to return."""

    def __init__(self, code: int, checkpoints: Path, interrupted: bool = False):
        super().__init__(code)
        self.code, self.checkpoints, self.interrupted = code, checkpoints, interrupted

