"""The `kefu` command line: a thin shell over the library. Errors print one line and exit non-zero."""

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kefu.errors import KefuError

app = typer.Typer(
    help="kefu: train, evaluate and run customer-service intent models (Chinese and English).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
TextCol = Annotated[str | None, typer.Option(help="Text column name (auto-detected)")]
LabelCol = Annotated[str | None, typer.Option(help="Label column name (auto-detected)")]
ModelDir = Annotated[Path, typer.Argument(help="A model directory")]
ProjectDir = Annotated[Path, typer.Argument(help="A bot project folder (see kefu init)")]
Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        help="Database URL (default: $KEFU_DATABASE_URL, else kefu.db in the project)",
    ),
]
out = Console()


def _one_line_errors(fn: Callable) -> Callable:
    """Show a KefuError as one line and exit 1, also under Typer's test runner."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KefuError as e:
            _fail(str(e))

    return wrapper


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


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


def _read_texts(texts: list[str]) -> list[str]:
    if texts:
        return texts
    if sys.stdin.isatty():
        _fail("no text given: pass texts as arguments or one per line on stdin")
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


@app.command(
    epilog='Examples:\n\n  kefu predict models/demo "where is my order"\n\n'
    "  cat questions.txt | kefu predict models/demo --json\n\n"
    "  kefu predict models/demo --file tickets.csv --out predictions.jsonl\n\n"
    "  kefu predict models/demo --file chats.jsonl --text-col message --id-col ticket --out predictions.csv"
)
@_one_line_errors
def predict(
    model_dir: ModelDir,
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to classify (default: stdin, one per line)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    explain: Annotated[
        bool, typer.Option("--explain", help="Also score each word: how much it made the model choose the intent")
    ] = False,
    file: Annotated[
        Path | None,
        typer.Option("--file", metavar="IN", help="Predict every text of a .csv, .tsv, .jsonl or .txt file (any size)"),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", metavar="OUT", help="With --file: write the predictions here (.jsonl or .csv)"),
    ] = None,
    text_col: TextCol = None,
    id_col: Annotated[
        str | None, typer.Option(help="With --file: id column copied to the output (default: a column named id)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="With --file: texts read and predicted at once")] = 1024,
) -> None:
    """Predict each text's intent, with its entities and sentiment when the model finds them; with --file,
    every text of a file of any size, batch by batch, into OUT."""
    from kefu.nlu.model import Model

    if file is not None:
        _predict_file(model_dir, file, out_file, texts, explain, text_col, id_col, batch_size)
        return
    if out_file is not None or text_col is not None or id_col is not None:
        _fail("--out, --text-col and --id-col go with --file IN")
    model = Model.load(model_dir)
    for p in model.predict(_read_texts(texts or [])):
        explanation = model.explain(p.text) if explain else None
        if as_json:
            extra = {"explanation": explanation.to_dict()} if explanation is not None else {}
            print(json.dumps(p.to_dict() | extra, ensure_ascii=False))
            continue
        extras = "".join(f"\t{part}" for part in _details(p))
        out.print(f"{p.intent}\t{p.confidence:.3f}\t{p.text}{extras}", highlight=False)
        if explanation is not None:
            out.print(_highlighted(explanation), highlight=False)


def _predict_file(
    model_dir: Path,
    file: Path,
    out_file: Path | None,
    texts: list[str] | None,
    explain: bool,
    text_col: str | None,
    id_col: str | None,
    batch_size: int,
) -> None:
    import time

    from kefu.nlu.batch import predict_file
    from kefu.nlu.model import Model

    if out_file is None:
        _fail("--file needs --out OUT (.jsonl or .csv)")
    if texts:
        _fail("give texts as arguments or --file IN, not both")
    if explain:
        _fail("--explain scores texts given as arguments or on stdin, not a --file")
    model = Model.load(model_dir)
    started = time.perf_counter()
    rows = predict_file(
        model, file, out_file, batch_size=batch_size, text_col=text_col, id_col=id_col, progress=True
    )
    seconds = time.perf_counter() - started
    err.print(f"wrote {rows} predictions to {out_file} ({seconds:.1f} s, {rows / max(seconds, 1e-9):.0f} texts/s)")


def _details(prediction) -> list[str]:
    """The sentiment and entities of a prediction as short strings, e.g. 'negative 0.93', 'order_id=A12345'."""
    parts = [f"{e.type}={e.value}" for e in prediction.entities]
    if prediction.sentiment is not None:
        parts.insert(0, f"{prediction.sentiment['label']} {prediction.sentiment['score']:.2f}")
    return parts


def _highlighted(explanation) -> Text:
    """'  card_arrival: received +0.175  new +0.197 ...': each word with its score, coloured by it."""
    line = Text(f"  {explanation.intent}:", style="dim")
    strongest = max((abs(w.score) for w in explanation.tokens), default=0.0) or 1.0
    for w in explanation.tokens:
        share = w.score / strongest  # colour by the share of the strongest word, so every text shows contrast
        style = "bold green" if share >= 0.5 else "green" if share >= 0.15 else "red" if share <= -0.15 else "dim"
        line.append(f"  {w.token}", style=style).append(f" {w.score:+.3f}", style="dim")
    return line


def _ranking_table(prediction) -> Table:
    notes = _details(prediction)
    if prediction.oos:
        notes.insert(0, f"out of scope (score {prediction.oos_score:.3f})")
    table = Table(show_header=True, header_style="bold", caption="  ".join(notes) or None)
    table.add_column("intent")
    table.add_column("confidence", justify="right")
    for r in prediction.ranking:
        table.add_row(r["intent"], f"{r['confidence']:.3f}")
    return table


@app.command(epilog="Example:\n\n  kefu shell models/demo    (type a message; Ctrl-D or 'exit' quits)")
@_one_line_errors
def shell(model_dir: ModelDir) -> None:
    """Chat with a model in the terminal: type a message, see the intent ranking."""
    from kefu.nlu.model import Model

    model = Model.load(model_dir)
    out.print(f"kefu shell: {len(model.labels)} intents. Type a message; Ctrl-D or 'exit' quits.")
    while True:
        try:
            text = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if text in {"exit", "quit"}:
            break
        if text:
            out.print(_ranking_table(model.predict(text)[0]))


@app.command(epilog="Examples:\n\n  kefu init mybot\n\n  kefu init mybot --force   (rewrite the template files)")
@_one_line_errors
def init(
    project_dir: Annotated[Path, typer.Argument(help="Folder to create the bot project in")],
    force: Annotated[bool, typer.Option(help="Write into a non-empty folder, replacing template files")] = False,
) -> None:
    """Create a bilingual bot project (kefu.yml, data, domain, knowledge) from the online-shop template."""
    from kefu.project.scaffold import init_project

    root = init_project(project_dir, force=force)
    err.print(
        f"created {root}; next: kefu validate {root} && kefu train {root} && kefu test {root} && kefu serve {root}"
    )


@app.command(
    epilog="Examples:\n\n  kefu validate mybot            (a whole project)\n\n  kefu validate data/nlu.yml"
    "\n\n  kefu validate train.csv --strict"
)
@_one_line_errors
def validate(
    data: Annotated[Path, typer.Argument(help="A data file, or a bot project folder")],
    text_col: TextCol = None,
    label_col: LabelCol = None,
    strict: Annotated[bool, typer.Option(help="Exit non-zero on warnings too")] = False,
) -> None:
    """Check a data file or a whole bot project and list every problem with file and line."""
    if data.is_dir():
        _validate_project(data, strict)
        return
    from kefu.data import clean, load_examples, validate
    from kefu.problems import errors_only

    examples = load_examples(data, text_col=text_col, label_col=label_col)
    issues = validate(examples, source=str(data))
    for issue in issues:
        colour = "yellow" if issue.is_warning else "red"
        err.print(f"[{colour}]{issue.severity}:[/{colour}] {issue.located()}", highlight=False, soft_wrap=True)
    kept = clean(examples, issues)
    err.print(f"{len(examples)} examples read, {len(kept)} usable, {len({e.label for e in kept})} labels")
    if errors_only(issues) or (strict and issues):
        raise typer.Exit(1)


@app.command(
    "test",
    epilog="Examples:\n\n  kefu test mybot                          (every story in mybot/tests/*.yml)"
    "\n\n  kefu test mybot mybot/tests/refunds.yml   (only these files)"
    "\n\n  kefu test mybot --json > report.json      (each turn: file, line, story, passed, failures, observed)"
    "\n\nExit status: 0 when every turn passes, 1 when one fails, 2 for a malformed story file.",
)
@_one_line_errors
def test_stories(
    project_dir: ProjectDir,
    files: Annotated[
        list[Path] | None, typer.Argument(help="Story files (default: the project's tests/*.yml)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON on stdout")] = False,
) -> None:
    """Play conversation stories against the project's trained bot (on a throwaway database) and check
    every turn: intent, decision, handoff, slots, reply text, knowledge-base source."""
    from kefu.runtime.stories import run_project_stories
    from kefu.stories import StoryError

    try:
        report = run_project_stories(project_dir, files or None)
    except StoryError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        for failure in report.failures():
            out.print(failure.describe(), highlight=False, soft_wrap=True)
        out.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _train_project(root: Path, force: bool) -> None:
    from kefu.project.training import train_project

    summary = train_project(root, progress=True, force=force)
    nlu, kb = summary["nlu"], summary["knowledge"]
    err.print(f"{root}: intent model {nlu['version']}" + (f", knowledge base of {kb['passages']} passages" if kb else ""))


@app.command(
    epilog="Examples:\n\n  kefu serve mybot\n\n  kefu serve mybot --host 0.0.0.0 --port 8080 --workers 4"
    "\n\n  KEFU_DATABASE_URL=postgresql+psycopg://kefu@db/kefu kefu serve mybot"
)
@_one_line_errors
def serve(
    project_dir: ProjectDir,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes sharing the port and the database")] = 1,
    train: Annotated[bool, typer.Option(help="Retrain first if the data or settings changed")] = True,
) -> None:
    """Serve a bot: chat API, web widget, and the admin dashboard for agents."""
    from kefu.server.serve import serve as run_server

    run_server(project_dir, host=host, port=port, workers=workers, train=train)


@app.command(
    epilog="Examples:\n\n  kefu erase mybot --customer u10086    (every conversation of a customer)"
    "\n\n  kefu erase mybot --session 9f1c2d3e4b5a69788796a5b4c3d2e1f0"
    "\n\n  kefu erase mybot --customer u10086 --database postgresql+psycopg://kefu@db/kefu"
)
@_one_line_errors
def erase(
    project_dir: ProjectDir,
    session: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Session id of one conversation")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option("--customer", metavar="ID", help="Customer id the site sent to the chat API"),
    ] = None,
    database: Database = None,
) -> None:
    """Delete one conversation, or every conversation of a customer, with everything in them (their
    reviewed turns in data/reviewed.yml included)."""
    if (session is None) == (customer is None):
        _fail("give one of --session ID or --customer ID")
    from kefu.project import load_project

    erasure = _erasure(load_project(project_dir), database)
    try:
        if session is not None:
            if not erasure.delete_conversation(session):
                _fail(f"no conversation with session id {session!r}")
            out.print(f"deleted conversation {session}", highlight=False)
        else:
            deleted = erasure.erase_customer(customer)
            out.print(f"deleted {_conversations(deleted)} of customer {customer}", highlight=False)
    finally:
        erasure.repo.store.dispose()


@app.command(
    epilog="Examples:\n\n  kefu purge mybot            (privacy.retention_days of mybot/kefu.yml)"
    "\n\n  kefu purge mybot --days 30 --database postgresql+psycopg://kefu@db/kefu"
)
@_one_line_errors
def purge(
    project_dir: ProjectDir,
    days: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Delete conversations inactive for more than N days (default: kefu.yml "
            "privacy.retention_days)"
        ),
    ] = None,
    database: Database = None,
) -> None:
    """Delete conversations nobody has written in for the retention period, with everything in them (their
    reviewed turns in data/reviewed.yml included)."""
    from kefu.project import load_project

    project = load_project(project_dir)
    days = days or project.settings.privacy.retention_days
    if days is None:
        _fail(f"no retention period: pass --days N or set privacy.retention_days in {project.settings_file}")
    erasure = _erasure(project, database)
    try:
        deleted = erasure.purge_older_than(days)
    finally:
        erasure.repo.store.dispose()
    out.print(f"deleted {_conversations(deleted)} inactive for more than {days} days", highlight=False)


users_app = typer.Typer(help="Dashboard users: passwords.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command(
    "set-password",
    epilog="Examples:\n\n  kefu users set-password mybot admin    (asks for the new password twice)"
    "\n\n  kefu users set-password mybot admin --generate    (a random one, shown once)"
    "\n\n  printf '%s\\n' \"$NEW_PASSWORD\" | kefu users set-password mybot mei    (from stdin)"
    "\n\n  KEFU_DATABASE_URL=postgresql+psycopg://kefu@db/kefu kefu users set-password mybot admin",
)
@_one_line_errors
def set_password(
    project_dir: ProjectDir,
    username: Annotated[str, typer.Argument(help="The dashboard user; with no users yet, the first admin")],
    generate: Annotated[bool, typer.Option("--generate", help="Make up a random password and show it once")] = False,
    database: Database = None,
) -> None:
    """Set a dashboard user's password; on a database without users, create USERNAME as the first admin.
    The password is asked for on a terminal, else read as one line from stdin. A generated one is printed
    on a terminal, else written to the project's .kefu-admin-password file (mode 0600)."""
    from kefu.project import load_project
    from kefu.runtime import default_database_url
    from kefu.server.passwords import MIN_PASSWORD_CHARS, generated_password, show_password
    from kefu.server.passwords import set_password as give_password
    from kefu.store import open_repository

    root = load_project(project_dir).root
    if generate:
        password = generated_password()
    elif sys.stdin.isatty():
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not generate and len(password) < MIN_PASSWORD_CHARS:
        _fail(f"the password needs at least {MIN_PASSWORD_CHARS} characters (got {len(password)})")
    repo = open_repository(database or default_database_url(root))
    try:
        created = give_password(repo, username, password)
    finally:
        repo.store.dispose()
    err.print(f"{'created dashboard admin' if created else 'set the password of'} {username!r}", highlight=False)
    if generate:
        show_password(username, password, root)


def _erasure(project, database: str | None):
    """Deletion from the store of the project's conversations (``database``, else the one its server
    uses) and from the project's files made of them."""
    from kefu.runtime import Erasure, default_database_url
    from kefu.store import open_repository

    return Erasure(open_repository(database or default_database_url(project.root)), project)


def _conversations(count: int) -> str:
    return f"{count} conversation{'' if count == 1 else 's'}"


def _validate_project(root: Path, strict: bool) -> None:
    from kefu.problems import errors_only
    from kefu.project.validate import validate_project

    problems = validate_project(root)
    for problem in problems:
        colour = "yellow" if problem.is_warning else "red"
        err.print(f"[{colour}]{problem}[/{colour}]", highlight=False, soft_wrap=True)
    errors = errors_only(problems)
    err.print(f"{root}: {len(errors)} errors, {len(problems) - len(errors)} warnings")
    if errors or (strict and problems):
        raise typer.Exit(1)


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


@app.command(
    epilog="Examples:\n\n  kefu discover fallbacks.txt --out discovered\n\n"
    "  kefu discover oos.csv --text-col message --clusters 20 --min-size 5 --out discovered\n\n"
    "  kefu train discovered/clusters.yml --out models/new    (after keeping the clusters you want)"
)
@_one_line_errors
def discover(
    file: Annotated[
        Path, typer.Argument(help="Messages without labels (.csv, .tsv, .jsonl, or .txt with one a line)")
    ],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory to write clusters.json and clusters.yml to")
    ],
    clusters: Annotated[
        int | None, typer.Option("--clusters", min=1, help="Number of clusters (default: chosen by BIC)")
    ] = None,
    min_size: Annotated[int, typer.Option(min=1, help="Leave out clusters of fewer messages")] = 3,
    text_col: TextCol = None,
) -> None:
    """Group unlabelled messages (the bot's fallbacks, say) into candidate intents: clusters of e5
    embeddings, named by their characteristic terms, ranked by size and cohesion, written as training YAML."""
    from kefu.analysis.discover import find_clusters, write_discovery
    from kefu.data.stream import STREAMED, stream_rows
    from kefu.knowledge import E5Embedder

    if file.suffix.lower() not in STREAMED:
        _fail(f"{file}: cannot read '{file.suffix or file.name}' files; use {', '.join(STREAMED)}")
    texts = [row.text for row in stream_rows(file, text_col)]
    if not texts:
        _fail(f"{file}: no texts found")
    found = find_clusters(texts, E5Embedder(num_threads=2, progress=True), clusters, min_size, progress=True)
    json_path, yml_path, skipped = write_discovery(found, out_dir)
    out.print(_clusters_table(found))
    how = "chosen by BIC" if found.automatic else "given"
    err.print(
        f"{found.texts} messages ({found.distinct} distinct), k = {found.n_clusters} ({how}): "
        f"{len(found.clusters)} clusters of {min_size} or more, {found.left_out} messages in none",
        highlight=False,
        soft_wrap=True,
    )
    if skipped:
        err.print(f"{skipped} texts that read as entity markup are left out of {yml_path}", soft_wrap=True)
    err.print(f"wrote {json_path} and {yml_path}", highlight=False, soft_wrap=True)


def _clusters_table(found) -> Table:
    table = Table(title="candidate intents, best first", header_style="bold")
    for column in ("#", "name", "size", "cohesion", "terms", "most central message"):
        table.add_column(column, justify="right" if column in ("#", "size", "cohesion") else "left")
    for rank, c in enumerate(found.clusters, 1):
        cohesion = f"{c.cohesion:.2f}" + (" mixed" if c.mixed else "")
        terms = ", ".join(t.text for t in c.terms[:4])
        example = c.examples[0] if c.examples else ""
        table.add_row(
            str(rank), c.name, str(c.size), cohesion, terms, example, style="dim" if c.mixed else None
        )
    return table


MAX_SKIP_WARNINGS = 20  # kefu analyze: skipped rows shown on stderr; summary.json lists them all


@app.command(
    epilog="Examples:\n\n  kefu analyze tweets.csv --model models/topics --out reports/tweets\n\n"
    "  kefu analyze headlines.jsonl --model models/news --sentiment-model models/demo --out reports/news\n\n"
    "  kefu analyze reviews.tsv --model models/shop --text-col body --time-col posted --source-col site"
    " --out reports/reviews\n\n"
    "  (writes texts.csv, summary.json and report.html, one self-contained page, into --out)"
)
@_one_line_errors
def analyze(
    file: Annotated[
        Path, typer.Argument(help="Texts to analyse (.csv, .tsv, .jsonl, or .txt with one a line)")
    ],
    model_dir: Annotated[
        Path,
        typer.Option(
            "--model", metavar="DIR", help="Topic model: a model directory whose intents are the topics"
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", metavar="DIR", help="Directory to write texts.csv, summary.json and report.html to"
        ),
    ],
    sentiment_model: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Model whose sentiment head scores the texts (default: the topic model's own, if any)",
        ),
    ] = None,
    text_col: TextCol = None,
    time_col: Annotated[
        str | None, typer.Option(help="Timestamp column (auto-detected: created_at, timestamp, time, date)")
    ] = None,
    source_col: Annotated[
        str | None, typer.Option(help="Source column (auto-detected: source, channel, platform)")
    ] = None,
    id_col: Annotated[
        str | None, typer.Option(help="Id column copied to texts.csv (auto-detected: id, tweet_id)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Texts read and scored at once")] = 1024,
    examples: Annotated[int, typer.Option(min=1, max=50, help="Representative texts shown per topic")] = 5,
    terms: Annotated[int, typer.Option(min=1, max=50, help="Characteristic terms shown per topic")] = 10,
) -> None:
    """Opinion monitoring over a file of texts: topic and sentiment of each, and their distribution, by
    time and by source, with characteristic terms and examples per topic, in an HTML report. Rows that
    cannot be read are skipped and listed with their line numbers."""
    from kefu.analysis.analyze import TopicSentimentScorer, analyze_file

    scorer = TopicSentimentScorer.load(model_dir, sentiment_model)
    shown = 0

    def warn(skipped) -> None:
        nonlocal shown
        shown += 1
        if shown <= MAX_SKIP_WARNINGS:
            err.print(
                f"[yellow]warning:[/yellow] {file}:{skipped.line}: {skipped.reason} (skipped)",
                highlight=False,
                soft_wrap=True,
                markup=True,
            )

    summary = analyze_file(
        file,
        scorer,
        out_dir,
        text_col=text_col,
        time_col=time_col,
        source_col=source_col,
        id_col=id_col,
        batch_size=batch_size,
        examples=examples,
        terms=terms,
        progress=True,
        on_skip=warn,
        model_name=str(model_dir),
        sentiment_model_name=str(sentiment_model or model_dir),
    )
    if summary.skipped > MAX_SKIP_WARNINGS:
        err.print(
            f"[yellow]warning:[/yellow] {summary.skipped - MAX_SKIP_WARNINGS} more rows skipped "
            f"(summary.json lists them)",
            highlight=False,
        )
    out.print(_topics_table(summary.data))
    if not scorer.sentiments:
        err.print(
            "no sentiment model: the topic model has no sentiment head (see --sentiment-model)",
            soft_wrap=True,
        )
    rows = f"{summary.skipped} row" + ("" if summary.skipped == 1 else "s")
    err.print(
        f"analysed {summary.rows} texts, skipped {rows} ({summary.seconds:.1f} s, "
        f"{summary.texts_per_second:.0f} texts/s); wrote texts.csv, summary.json and {out_dir / 'report.html'}",
        highlight=False,
        soft_wrap=True,
    )


def _topics_table(data: dict, limit: int = 15) -> Table:
    topics = [(t, v) for t, v in data["topics"].items() if v["count"]]
    moods = data["sentiments"]
    table = Table(title="topics, most frequent first", header_style="bold")
    for column in ("topic", "texts", "share", *moods):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic, v in topics[:limit]:
        counts = (data["sentiment_by_topic"] or {}).get(topic, {})
        shares = [f"{counts.get(m, 0) / v['count']:.0%}" for m in moods]
        table.add_row(Text(topic), f"{v['count']:,}", f"{v['share']:.1%}", *shares)
    if len(topics) > limit:
        table.caption = f"{len(topics) - limit} more in the report"
    return table


def main() -> None:
    app()
