"""Reading unlabelled texts: `kefu discover` (candidate intents) and `kefu analyze` (opinion monitoring)."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kefu.cli.common import TextCol, _fail, _one_line_errors, app, err, out


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
