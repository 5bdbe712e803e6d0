"""The HTML report of ``kefu analyze``: one self-contained file made from summary.json alone.

Charts are PNG images inlined as base64 (matplotlib, Agg), the style sheet is inline, there are no
scripts and no external URL, so the file can be mailed or archived as it is. Every text from the data
(topics, terms, examples, sources, reasons) is HTML-escaped.

Chinese topic names need a CJK font to be drawn. One is looked for among the installed fonts; without
one, the charts name topics by their number in the tables (#1, #2, ...), which carry the names.
"""

import base64
import io
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from html import escape

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from kefu.evaluation.plots import CJK_FONTS
from kefu.evaluation.report import REPORT_CSS

MAX_TOPICS_OVER_TIME = 8  # the most frequent topics get a line each; the rest one "other topics" line
_SENTIMENT_COLOURS = {"negative": "#d62728", "neutral": "#a0a0a0", "positive": "#2ca02c"}
_PALETTE = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


@cache
def cjk_font() -> str | None:
    """The name of an installed font that draws Chinese, or None."""
    installed = {font.name: font.fname for font in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    from matplotlib.ft2font import FT2Font

    for name, path in sorted(installed.items()):
        try:
            font = FT2Font(path)
            # a real glyph for each: "Last Resort" fonts draw one placeholder for a whole Unicode block
            glyphs = {font.get_char_index(ord(c)) for c in "中文"}
            if 0 not in glyphs and len(glyphs) == 2:
                return name
        except (OSError, RuntimeError, ValueError):  # a font file matplotlib cannot open: not this one
            continue
    return None


def _wide(text: str) -> bool:
    """Whether ``text`` has characters the default font (DejaVu Sans) lacks: CJK, kana, hangul, ..."""
    return any(ord(c) >= 0x2E80 and unicodedata.east_asian_width(c) in "WF" for c in text)


@contextmanager
def _fonts() -> Iterator[None]:
    font = cjk_font()
    settings = {"font.family": ["sans-serif"], "font.size": 9}
    if font is not None:
        settings["font.sans-serif"] = ["DejaVu Sans", font]
    with matplotlib.rc_context(settings), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def chart_labels(names: Sequence[str], numbers: dict[str, int]) -> list[str]:
    """Each name as a chart can draw it: itself, or "#n" (its number in the tables) when it needs a CJK
    font and none is installed."""
    if cjk_font() is not None:
        return list(names)
    return [f"#{numbers[n]}" if n in numbers and _wide(n) else n for n in names]


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img src="data:image/png;base64,{_png(fig)}" alt="{escape(alt)}">'


def _colours(names: Sequence[str]) -> list[str]:
    spare = iter(_PALETTE * (len(names) // len(_PALETTE) + 1))
    return [_SENTIMENT_COLOURS.get(n.lower()) or next(spare) for n in names]


def topic_chart(topics: list[str], counts: list[int], labels: list[str]) -> str:
    with _fonts():
        fig = Figure(figsize=(7, max(1.6, 0.3 * len(topics) + 0.8)))
        ax = fig.add_subplot()
        ax.barh(range(len(topics)), counts, color="#1f77b4")
        ax.set_yticks(range(len(topics)), labels)
        ax.invert_yaxis()
        for y, n in enumerate(counts):
            ax.text(n, y, f" {n:,}", va="center", fontsize=8)
        ax.set_xlabel("texts")
        ax.spines[["top", "right"]].set_visible(False)
        return _img(fig, "texts per topic")


def sentiment_chart(topics: list[str], by_topic: dict, sentiments: list[str], labels: list[str]) -> str:
    """One bar per topic, split into its sentiments' shares (100% stacked), the number of texts beside."""
    with _fonts():
        fig = Figure(figsize=(7, max(1.8, 0.3 * len(topics) + 1.0)))
        ax = fig.add_subplot()
        totals = [sum(by_topic[t].values()) for t in topics]
        left = [0.0] * len(topics)
        for sentiment, colour, label in zip(
            sentiments, _colours(sentiments), chart_labels(sentiments, {}), strict=True
        ):
            shares = [by_topic[t][sentiment] / n if n else 0.0 for t, n in zip(topics, totals, strict=True)]
            ax.barh(range(len(topics)), shares, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, shares, strict=True)]
        for y, n in enumerate(totals):
            ax.text(1.01, y, f"{n:,}", va="center", fontsize=8)
        ax.set_yticks(range(len(topics)), labels)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=max(1, len(sentiments)), frameon=False
        )
        ax.spines[["top", "right"]].set_visible(False)
        return _img(fig, "sentiment shares per topic")


def time_chart(
    buckets: list[str], series: dict[str, list[int]], colours: list[str], unit: str, stacked: bool
) -> str:
    """Texts per time bucket: a line per series, or the series stacked."""
    with _fonts():
        fig = Figure(figsize=(9, 3.2))
        ax = fig.add_subplot()
        x = list(range(len(buckets)))
        names = list(series)
        if stacked:
            bottom = [0] * len(x)
            width = 0.8 if len(x) <= 60 else 1.0
            for name, values, colour in zip(names, series.values(), colours, strict=True):
                ax.bar(x, values, width, bottom=bottom, label=name, color=colour)
                bottom = [a + b for a, b in zip(bottom, values, strict=True)]
        else:
            for (name, values), colour in zip(series.items(), colours, strict=True):
                ax.plot(
                    x, values, label=name, color=colour, marker="o" if len(x) <= 40 else None, markersize=3
                )
        step = max(1, len(x) // 10)
        ax.set_xticks(x[::step], buckets[::step], rotation=30, ha="right")
        ax.set_ylabel(f"texts per {unit}")
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _img(fig, f"texts per {unit}")


def _table(header: Sequence[str], rows: list[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(str(cell))}</td>' if i in numeric else f"<td>{escape(str(cell))}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


_CSS = REPORT_CSS + """
td.n { text-align: right; white-space: nowrap; }
.note { color: #666; }
td.text { max-width: 48em; white-space: pre-wrap; word-break: break-word; }
"""


def render_report(data: dict, title: str | None = None) -> str:
    """The report of one analysis (the dict summary.json holds) as one self-contained HTML page."""
    title = title or f"kefu analyze: {data.get('input', '')}"
    topics = [t for t, v in data["topics"].items() if v["count"]]
    numbers = {t: n for n, t in enumerate(topics, 1)}
    labels = chart_labels(topics, numbers)
    sentiments = data.get("sentiments") or []
    time = data.get("time")
    sections = [f"<h1>{escape(title)}</h1>", _headline(data, len(topics))]
    notes = [f"topic model {data['model']}"] if data.get("model") else []
    if not sentiments:
        notes.append("no sentiment model")
    elif data.get("sentiment_model"):
        notes.append(f"sentiment model {data['sentiment_model']}")
    notes.append(f"columns: {_columns(data)}")
    sections.append(f'<p class="note">{escape("; ".join(notes))}.</p>')
    if cjk_font() is None and labels != topics:
        sections.append(
            '<p class="note">No CJK font installed: the charts name topics by their number (#).</p>'
        )

    sections += ["<h2>Topics</h2>", topic_chart(topics, [data["topics"][t]["count"] for t in topics], labels)]
    header = ["#", "topic", "texts", "share"] + [f"{s}" for s in sentiments] + ["characteristic terms"]
    rows = []
    for t in topics:
        row: list[object] = [
            numbers[t],
            t,
            f"{data['topics'][t]['count']:,}",
            _percent(data["topics"][t]["share"]),
        ]
        if sentiments:
            counts = data["sentiment_by_topic"][t]
            total = sum(counts.values())
            row += [_percent(counts[s] / total) if total else "-" for s in sentiments]
        row.append(", ".join(term["term"] for term in data["terms"].get(t, [])[:6]))
        rows.append(row)
    sections.append(_table(header, rows, numeric=range(2, 4 + len(sentiments))))
    empty = [t for t, v in data["topics"].items() if not v["count"]]
    if empty:
        sections.append(f'<p class="note">No text in: {escape(", ".join(empty))}.</p>')

    sections.append("<h2>Sentiment by topic</h2>")
    if sentiments:
        sections.append(sentiment_chart(topics, data["sentiment_by_topic"], sentiments, labels))
        overall = data["sentiment_counts"]
        sections.append(
            _table(
                ["sentiment", "texts", "share"],
                [(s, f"{overall[s]:,}", _percent(overall[s] / data["rows_analysed"])) for s in sentiments],
                numeric=(1, 2),
            )
        )
    else:
        sections.append(
            '<p class="note">No sentiment model: the topic model has no sentiment head and none was given.</p>'
        )

    if time is not None:
        sections += _time_sections(time, topics, labels, sentiments)
    if data.get("sources"):
        sections += _source_sections(data["sources"], sentiments)
    sections += _terms_section(data["terms"], topics, numbers)
    sections += _examples_section(data["examples"], topics, numbers, bool(sentiments))
    sections += _skipped_section(data)
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _headline(data: dict, n_topics: int) -> str:
    time = data.get("time")
    boxes = [
        ("texts analysed", f"{data['rows_analysed']:,}"),
        ("rows skipped", f"{data['rows_skipped']:,}"),
        ("topics", str(n_topics)),
        ("texts / s", f"{data['texts_per_second']:,.0f}"),
    ]
    if time is not None:
        boxes.append(("from - to", f"{time['first'][:10]} - {time['last'][:10]}"))
    return (
        '<div class="headline">'
        + "".join(f"<div>{escape(k)}<b>{escape(v)}</b></div>" for k, v in boxes)
        + "</div>"
    )


def _columns(data: dict) -> str:
    found = [f"{role} = {name}" for role, name in (data.get("columns") or {}).items() if name is not None]
    return ", ".join(found) or "none (one text a line)"


def _time_sections(time: dict, topics: list[str], labels: list[str], sentiments: list[str]) -> list[str]:
    unit, buckets = time["unit"], time["buckets"]
    label_of = dict(zip(topics, labels, strict=True))
    shown = topics[:MAX_TOPICS_OVER_TIME]
    series = {label_of[t]: time["topics"][t] for t in shown}
    rest = topics[MAX_TOPICS_OVER_TIME:]
    if rest:
        series[f"{len(rest)} other topics"] = [
            sum(v) for v in zip(*(time["topics"][t] for t in rest), strict=True)
        ]
    colours = list(_PALETTE[: len(series)]) + ["#cccccc"] * max(0, len(series) - len(_PALETTE))
    out = [
        f"<h2>Topics over time (per {unit})</h2>",
        time_chart(buckets, series, colours, unit, stacked=False),
    ]
    notes = ["Times with a UTC offset are counted in UTC, others as written."]
    before, after = time["outside"]["before"], time["outside"]["after"]
    if before or after:
        stray = [f"{before:,} texts before {buckets[0]}"] if before else []
        stray += [f"{after:,} texts after {buckets[-1]}"] if after else []
        notes.append(
            f"Not drawn: {' and '.join(stray)} (stray timestamps; all texts span "
            f"{time['first'][:10]} to {time['last'][:10]})."
        )
    if time.get("missing"):
        notes.append(f"{time['missing']:,} texts have no timestamp.")
    out.append(f'<p class="note">{escape(" ".join(notes))}</p>')
    if sentiments:
        moods = {
            label: time["sentiments"][s]
            for s, label in zip(sentiments, chart_labels(sentiments, {}), strict=True)
        }
        out += [
            f"<h2>Sentiment over time (per {unit})</h2>",
            time_chart(buckets, moods, _colours(sentiments), unit, stacked=True),
        ]
    return out


def _source_sections(sources: dict, sentiments: list[str]) -> list[str]:
    header = ["source", "texts", "share", "top topics"] + sentiments
    rows = []
    for name, s in sources.items():
        top = sorted(s["topics"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        row: list[object] = [
            name,
            f"{s['count']:,}",
            _percent(s["share"]),
            ", ".join(f"{t} ({n})" for t, n in top),
        ]
        row += [s["sentiments"][m] for m in sentiments] if "sentiments" in s else []
        rows.append(row)
    numeric = [1, 2] + list(range(4, 4 + len(sentiments)))
    return ["<h2>Sources</h2>", _table(header, rows, numeric=numeric)]


def _terms_section(terms: dict, topics: list[str], numbers: dict[str, int]) -> list[str]:
    rows = [
        (numbers[t], t, "; ".join(f"{term['term']} ({term['count']})" for term in terms.get(t, [])) or "-")
        for t in topics
    ]
    note = '<p class="note">Words and word pairs common in a topic and rarer elsewhere (number of texts).</p>'
    return ["<h2>Characteristic terms</h2>", note, _table(["#", "topic", "terms"], rows, numeric=(0,))]


def _examples_section(
    examples: dict, topics: list[str], numbers: dict[str, int], sentiment: bool
) -> list[str]:
    out = [
        "<h2>Representative examples</h2>",
        '<p class="note">The most confidently classified texts of each topic.</p>',
    ]
    for t in topics:
        out.append(f"<h3>#{numbers[t]} {escape(t)}</h3>")
        rows = []
        for e in examples.get(t, []):
            details = [f"line {e['line']}"] + ([f"id {e['id']}"] if "id" in e else [])
            details += [x for x in (e.get("timestamp"), e.get("source")) if x]
            mood = [f"{e['sentiment']} {e['sentiment_confidence']:.2f}"] if sentiment else []
            rows.append([e["text"], f"{e['confidence']:.3f}", *mood, ", ".join(details)])
        header = ["text", "confidence"] + (["sentiment"] if sentiment else []) + ["where"]
        table = _table(header, rows, numeric=(1,))
        out.append(table.replace("<tr><td>", '<tr><td class="text">'))
    return out


def _skipped_section(data: dict) -> list[str]:
    listed, total = data.get("skipped", []), data["rows_skipped"]
    out = [f"<h2>Skipped rows ({total:,})</h2>"]
    if not total:
        return [*out, '<p class="note">None: every row was analysed.</p>']
    if len(listed) < total:
        out.append(f'<p class="note">The first {len(listed):,} are listed.</p>')
    return [*out, _table(["line", "reason"], [(s["line"], s["reason"]) for s in listed], numeric=(0,))]
