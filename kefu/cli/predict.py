"""`kefu predict` and `kefu shell`: a model's answers to texts."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kefu.cli.common import ModelDir, TextCol, _fail, _one_line_errors, app, err, out


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
