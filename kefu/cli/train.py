"""`kefu train`, `evaluate`, and the commands that make a model smaller: `prune`, `export`, `distill`."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kefu.cli.common import LabelCol, ModelDir, TextCol, _fail, _one_line_errors, app, err, out


@app.command(
    epilog="Examples:\n\n  kefu train data/nlu.yml --out models/demo\n\n"
    "  kefu train train.csv --val val.csv --out models/bank --epochs 6 --seed 1\n\n"
    "  kefu train data.csv --text-col question --label-col topic --config train.yml --out m\n\n"
    "  kefu train data/nlu.yml --sentiment data/sentiment.csv --out models/demo\n\n"
    "  kefu train train.csv --out models/bank --nproc 2    (DistributedDataParallel, 2 processes)\n\n"
    "  kefu train train.csv --out models/bank --resume    (continue a killed run from its checkpoint)"
)
@_one_line_errors
def train(
    data: Annotated[
        Path, typer.Argument(help="Training data (.csv, .tsv, .jsonl, .json, Rasa-style .yml) or a bot project")
    ],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory to write the model to")] = None,
    val: Annotated[Path | None, typer.Option(help="Validation data (default: a stratified split of DATA)")] = None,
    sentiment: Annotated[
        Path | None,
        typer.Option(help="Sentiment-labelled texts (negative/neutral/positive): adds a sentiment head"),
    ] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON file of training settings")] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder: scratch, e5-small (multilingual) or minilm (English)")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum number of epochs")] = None,
    text_col: TextCol = None,
    label_col: LabelCol = None,
    strict: Annotated[bool, typer.Option(help="Treat data warnings as errors")] = False,
    nproc: Annotated[
        int, typer.Option(min=1, metavar="N", help="Train with N processes on this machine (DistributedDataParallel)")
    ] = 1,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Save the training state here after every epoch (default: OUT.ckpt beside --out; deleted once "
            "the model is saved)",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the latest checkpoint of a killed or interrupted run")
    ] = False,
) -> None:
    """Train an intent model on labelled utterances and save it to --out; or train a whole bot project."""
    from kefu.training import Data, TrainConfig, distributed
    from kefu.training import train as run_training
    from kefu.training.run import JobEnded

    if data.is_dir():
        if nproc > 1 or checkpoint or resume:
            _fail("--nproc, --checkpoint and --resume train from a data file, not a bot project")
        _train_project(data, force=True)
        return
    if out_dir is None:
        _fail("--out is required when training from a data file")
    err.quiet = not distributed.is_main()  # of a distributed job's processes, rank 0 speaks for all

    overrides = {k: v for k, v in {"encoder": encoder, "seed": seed, "epochs": epochs}.items() if v is not None}
    if config:
        cfg = TrainConfig.from_file(config, **overrides)
    else:
        cfg = TrainConfig.from_dict(overrides, source="command line")
    # --text-col/--label-col name DATA's (and VAL's) columns; the sentiment file's are detected on their own
    checked = Data.load(data, val, sentiment, text_col=text_col, label_col=label_col, strict=strict)
    for w in checked.warnings if nproc == 1 else []:  # with --nproc, rank 0 of the job shows them
        err.print(f"[yellow]warning:[/yellow] {w.located()}", highlight=False, soft_wrap=True)
    try:
        model = run_training(
            checked, cfg, out_dir=out_dir, checkpoint_dir=checkpoint, resume=resume, nproc=nproc,
            command=_without_nproc(sys.argv[1:]), progress=True, report=err.print,
        )
    except JobEnded as ended:
        if ended.interrupted:
            err.print(f"[yellow]interrupted:[/yellow] --resume continues from the checkpoint in {ended.checkpoints}")
        raise typer.Exit(ended.code) from None
    if not distributed.is_main():
        return
    m = model.metrics
    if m.get("interrupted"):
        err.print("[yellow]interrupted:[/yellow] saved the best model so far; --resume continues training")
    summary = f"saved {out_dir} ({m['train_seconds']:.1f} s"
    if "resumed_after_epoch" in m:
        summary += f", resumed after epoch {m['resumed_after_epoch']}"
    if "val_accuracy" in m:
        summary += f", validation accuracy {m['val_accuracy']:.4f}, macro-F1 {m['val_macro_f1']:.4f}"
    if "val_sentiment_accuracy" in m:
        summary += f", sentiment accuracy {m['val_sentiment_accuracy']:.4f}"
    err.print(summary + ")")


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line less its --nproc option: what each process of the job runs."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if not skip and arg != "--nproc" and not arg.startswith("--nproc="):
            kept.append(arg)
        skip = arg == "--nproc"
    return kept


def _train_project(root: Path, force: bool) -> None:
    from kefu.project.training import train_project

    summary = train_project(root, progress=True, force=force)
    nlu, kb = summary["nlu"], summary["knowledge"]
    err.print(f"{root}: intent model {nlu['version']}" + (f", knowledge base of {kb['passages']} passages" if kb else ""))


@app.command(
    epilog="Examples:\n\n  kefu evaluate models/bank test.csv\n\n  kefu evaluate models/bank test.csv --json > result.json"
    "\n\n  kefu evaluate models/bank test.csv --report reports/bank"
    "\n\n  kefu evaluate models/demo test.yml --sentiment sentiment_test.csv"
)
@_one_line_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by `kefu train`")],
    data: Annotated[Path, typer.Argument(help="Labelled test data")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout")] = False,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report with plots to this directory")] = None,
    sentiment: Annotated[Path | None, typer.Option(help="Also score the sentiment head on these labelled texts")] = None,
    text_col: TextCol = None,
    label_col: LabelCol = None,
) -> None:
    """Score a model on labelled data: accuracy, macro-F1, per-intent table, calibration."""
    from kefu.data import load_dataset
    from kefu.evaluation import write_report
    from kefu.nlu.evaluate import evaluate_model, evaluate_sentiment
    from kefu.nlu.model import Model

    model = Model.load(model_dir)
    examples, _ = load_dataset(data, text_col=text_col, label_col=label_col, min_per_label=1)
    result = evaluate_model(model, examples)
    if sentiment is not None:
        result.extra["sentiment"] = evaluate_sentiment(model, load_dataset(sentiment, min_per_label=1)[0])
    if report is not None:
        path = write_report(result, report, title=f"kefu evaluation: {model_dir} on {data}")
        err.print(f"report written to {path}")
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    out.print(result.summary_table(), highlight=False)
    out.print(
        f"accuracy {result.accuracy:.4f}  macro-F1 {result.macro_f1:.4f}  ECE {result.ece:.4f}  n {result.n}",
        highlight=False,
    )
    if sentiment is not None:
        mood = result.extra["sentiment"]
        out.print(f"sentiment accuracy {mood['accuracy']:.4f}  macro-F1 {mood['macro_f1']:.4f}  n {mood['n']}")


@app.command(
    epilog="Examples:\n\n  kefu prune models/bank train.csv --out models/bank-pruned\n\n"
    "  kefu prune models/bank train.csv --val val.csv --out models/bank-small --heads 0.6 --ffn 0.7 --epochs 2"
    "\n\n  kefu prune models/demo data/nlu.yml --out models/demo-pruned --epochs 0   (no recovery fine-tune)"
)
@_one_line_errors
def prune(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by `kefu train`")],
    data: Annotated[Path, typer.Argument(help="The data the model was trained on: scores the units, then recovers")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the pruned model to")],
    heads: Annotated[float, typer.Option(help="Fraction of all attention heads to remove (0 to below 1)")] = 0.5,
    ffn: Annotated[float, typer.Option(help="Fraction of all feed-forward neurons to remove (0 to below 1)")] = 0.5,
    epochs: Annotated[int, typer.Option(help="Epochs of recovery fine-tuning after the cut (0: none)")] = 1,
    val: Annotated[
        Path | None, typer.Option(help="Validation data (default: the model's own held-out share of DATA)")
    ] = None,
    text_col: TextCol = None,
    label_col: LabelCol = None,
) -> None:
    """Remove the least important attention heads and feed-forward neurons of a model (a smaller, faster
    model, not a masked one), then fine-tune it briefly to recover its accuracy."""
    from kefu.compress import prune as prune_model
    from kefu.compress.prune import check_settings
    from kefu.data import load_dataset
    from kefu.nlu.model import Model
    from kefu.nlu.slicing import shapes

    check_settings(heads, ffn, epochs)  # before minutes of loading and scoring, not after
    def load(path: Path):
        examples, warnings = load_dataset(path, text_col=text_col, label_col=label_col)
        for w in warnings:
            err.print(f"[yellow]warning:[/yellow] {w.located()}", highlight=False, soft_wrap=True)
        return examples

    model = Model.load(model_dir)
    examples = load(data)
    val_examples = load(val) if val is not None else None
    start = shapes(model.network.encoder)
    err.print(
        f"pruning {model_dir}: {len(start['heads'])} layers, {sum(start['heads'])} attention heads, "
        f"{sum(start['ffn'])} feed-forward neurons; scoring them on {len(examples)} examples",
        highlight=False,
        soft_wrap=True,
    )
    pruned = prune_model(model, examples, heads=heads, ffn=ffn, epochs=epochs, val_examples=val_examples, progress=True)
    pruned.save(out_dir)
    report, end = pruned.metrics["pruning"], shapes(pruned.network.encoder)
    total = (sum(p.numel() for p in model.network.parameters()), sum(p.numel() for p in pruned.network.parameters()))
    err.print(
        f"encoder layers: {report['layer_params_before'] / 1e6:.2f}M -> {report['layer_params_after'] / 1e6:.2f}M "
        f"parameters (heads {sum(start['heads'])} -> {sum(end['heads'])}, "
        f"feed-forward neurons {sum(start['ffn'])} -> {sum(end['ffn'])}); "
        f"whole model {total[0] / 1e6:.1f}M -> {total[1] / 1e6:.1f}M",
        highlight=False,
        soft_wrap=True,
    )
    note = ""
    if model.network.cfg.pretrained is not None:
        note = f" (neither holds {model.network.cfg.pretrained}'s frozen embeddings: they come from its wheel)"
    err.print(f"on disk: {_mb(model_dir)} -> {_mb(out_dir)}{note}", highlight=False, soft_wrap=True)
    if "val_accuracy" in pruned.metrics:
        err.print(
            f"validation accuracy {report['val_accuracy_before']:.4f} -> {pruned.metrics['val_accuracy']:.4f}, "
            f"macro-F1 {report['val_macro_f1_before']:.4f} -> {pruned.metrics['val_macro_f1']:.4f}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        err.print("no validation data (the model held none out): pass --val to score the pruned model", soft_wrap=True)
    err.print(f"saved {out_dir} ({report['seconds']:.1f} s)", highlight=False, soft_wrap=True)


def _mb(directory: Path) -> str:
    return f"{sum(f.stat().st_size for f in directory.iterdir() if f.is_file()) / 1e6:.1f} MB"


@app.command(
    epilog="Examples:\n\n  kefu export models/bank --out models/bank-int8 --int8\n\n"
    "  kefu export models/bank --out models/bank-int8 --int8 --check test.csv   (top-1 agreement with the original)"
)
@_one_line_errors
def export(
    model_dir: ModelDir,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the exported model to")],
    int8: Annotated[bool, typer.Option("--int8", help="Quantise the encoder's weights to int8 (per channel)")] = False,
    check: Annotated[
        Path | None, typer.Option(help="Labelled data (e.g. the test set) whose texts both models predict: reports their agreement")
    ] = None,
    text_col: TextCol = None,
) -> None:
    """Write a copy of a model whose encoder runs on ONNX Runtime: the same directory format, loaded by
    predict, evaluate and serve like any other model, and several times faster on a CPU."""
    from kefu.data import load_dataset
    from kefu.evaluation.agreement import agreement
    from kefu.nlu.model import Model

    model = Model.load(model_dir)
    with err.status("exporting the encoder" + (" and quantising it to int8" if int8 else "")):
        model.export(out_dir, int8=int8)
    size = sum(f.stat().st_size for f in out_dir.iterdir()) / 1e6
    err.print(f"saved {out_dir} ({size:.1f} MB)", soft_wrap=True)
    if check is not None:
        examples, _ = load_dataset(check, text_col=text_col)
        result = agreement(model, Model.load(out_dir), [e.text for e in examples])
        err.print(
            f"top-1 agreement with {model_dir} on {result['n']} texts: {result['top1_agreement']:.2%}"
            f" (largest probability change {result['max_abs_diff']:.4f})",
            soft_wrap=True,
        )


@app.command(
    epilog="Examples:\n\n  kefu distill models/bank-e5 train.csv --unlabelled requests.txt --out models/bank-small\n\n"
    "  kefu distill models/bank-e5 train.csv --unlabelled tickets.csv --text-col body --val val.csv"
    " --temperature 3 --out models/bank-small\n\n"
    "  kefu distill models/bank-e5 train.csv --copies 2 --out models/bank-small    (no unlabelled text at hand)"
)
@_one_line_errors
def distill(
    teacher_dir: Annotated[Path, typer.Argument(help="The trained teacher model directory")],
    data: Annotated[Path, typer.Argument(help="The labelled training data (the teacher's, usually)")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the student to")],
    unlabelled: Annotated[
        Path | None, typer.Option(help="Texts without labels (.txt one per line, .csv, .tsv, .jsonl) for the teacher to label")
    ] = None,
    val: Annotated[Path | None, typer.Option(help="Validation data (default: a stratified split of DATA)")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON training settings of the student")] = None,
    encoder: Annotated[str, typer.Option(help="The student's encoder")] = "scratch",
    temperature: Annotated[float, typer.Option(help="Softens the teacher's and student's probabilities")] = 2.0,
    weight: Annotated[float, typer.Option(help="Weight of the teacher's loss against the gold labels'")] = 1.0,
    copies: Annotated[
        int, typer.Option(min=0, help="Variants of each training text for the teacher to label (a word replaced, dropped, or cut off)")
    ] = 0,
    epochs: Annotated[int | None, typer.Option(help="Maximum number of epochs")] = None,
    text_col: Annotated[str | None, typer.Option(help="Text column of the unlabelled file (auto-detected)")] = None,
) -> None:
    """Train a small, fast student model from a teacher's soft labels on DATA and on unlabelled texts."""
    from kefu.compress import distill as distill_model
    from kefu.data import load_dataset
    from kefu.data.stream import stream_rows
    from kefu.nlu.model import Model
    from kefu.training import TrainConfig

    overrides = {"encoder": encoder} | ({"epochs": epochs} if epochs is not None else {})
    cfg = TrainConfig.from_file(config, **overrides) if config else TrainConfig.from_dict(overrides, "command line")
    teacher = Model.load(teacher_dir)
    examples, _ = load_dataset(data)
    val_examples = load_dataset(val)[0] if val is not None else None
    texts = [row.text for row in stream_rows(unlabelled, text_col)] if unlabelled is not None else []
    err.print(f"distilling {teacher_dir} into a {encoder} student: {len(examples)} examples, {len(texts)} unlabelled")
    student = distill_model(teacher, examples, texts, cfg, val_examples, temperature, weight, copies, progress=True)
    student.save(out_dir)
    m = student.metrics
    summary = f"saved {out_dir} ({m['train_seconds']:.1f} s"
    if "val_accuracy" in m:
        summary += f", validation accuracy {m['val_accuracy']:.4f}"
    err.print(summary + ")", soft_wrap=True)
