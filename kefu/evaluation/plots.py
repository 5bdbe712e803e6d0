"""PNG figures for the evaluation report: the confusion matrix and the reliability diagram."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

# Reports are written on servers without a display; select the backend before pyplot is imported.
matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

# Common CJK fonts on Linux, Windows and macOS; whichever are installed become fallbacks for Chinese labels.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)
# Above this many labels the cells are too small to read a number in.
_MAX_ANNOTATED_LABELS = 40


@contextmanager
def _cjk_friendly() -> Iterator[None]:
    """Draw with an installed CJK fallback font if any, and silence the missing-glyph warnings otherwise."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    fallbacks = [name for name in CJK_FONTS if name in installed]
    # Only installed names go in: an absent family makes matplotlib log a warning on every text drawn.
    with plt.rc_context({"font.family": ["sans-serif", *fallbacks]}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def _tick_fontsize(n_labels: int) -> float:
    """Tick font size that still fits one label per row when there are many labels."""
    if n_labels <= 20:
        return 9
    if n_labels <= 40:
        return 7
    if n_labels <= 100:
        return 5
    return 4


def plot_confusion_matrix(confusion: list[list[int]], labels: list[str], path: str | Path) -> None:
    """Save the confusion matrix (rows = true, columns = predicted) as a PNG.

    Colour is each row's share, so errors on small labels stay visible next to large ones; cells are
    annotated with raw counts when there are few enough labels to read them.
    """
    matrix = np.asarray(confusion, dtype=float).reshape(len(labels), len(labels))
    row_totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, row_totals, out=np.zeros_like(matrix), where=row_totals > 0)
    size = min(max(6.0, 0.22 * len(labels) + 2.5), 40.0)
    fontsize = _tick_fontsize(len(labels))

    with _cjk_friendly():
        fig, ax = plt.subplots(figsize=(size, size))
        try:
            image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
            ticks = np.arange(len(labels))
            ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
            ax.set_yticks(ticks, labels, fontsize=fontsize)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title("Confusion matrix (colour: share of the true label's examples)")
            if len(labels) <= _MAX_ANNOTATED_LABELS:
                for (i, j), count in np.ndenumerate(matrix):
                    if count:
                        colour = "white" if shares[i, j] > 0.5 else "black"
                        ax.text(j, i, int(count), ha="center", va="center", fontsize=fontsize, color=colour)
            # A fixed share of a very large figure would make a colour bar inches wide.
            fig.colorbar(image, ax=ax, fraction=min(0.046, 0.3 / size), pad=0.02)
            fig.tight_layout()
            fig.savefig(path, dpi=100)
        finally:
            plt.close(fig)


def plot_reliability(bins: list[dict], ece: float, path: str | Path) -> None:
    """Save a reliability diagram: per-bin accuracy as bars against the diagonal of perfect calibration."""
    filled = [b for b in bins if b["count"]]
    with _cjk_friendly():
        fig, ax = plt.subplots(figsize=(6, 6))
        try:
            ax.bar(
                [b["lower"] for b in filled],
                [b["accuracy"] for b in filled],
                width=[b["upper"] - b["lower"] for b in filled],
                align="edge",
                edgecolor="black",
                label="accuracy",
            )
            ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("confidence")
            ax.set_ylabel("accuracy")
            ax.set_title(f"Reliability diagram (ECE {ece * 100:.2f}%)")
            ax.legend(loc="upper left")
            fig.tight_layout()
            fig.savefig(path, dpi=100)
        finally:
            plt.close(fig)


def plot_oos_curve(curve: list[dict], threshold: float | None, path: str | Path) -> None:
    """Save in-scope accuracy and out-of-scope recall against the threshold, with the chosen one marked."""
    xs = [p["threshold"] for p in curve]
    with _cjk_friendly():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        try:
            for key, name in (("in_scope_accuracy", "in-scope accuracy"), ("oos_recall", "out-of-scope recall")):
                ys = [p[key] for p in curve]
                if all(y is not None for y in ys):
                    ax.plot(xs, ys, label=name)
            if threshold is not None:
                ax.axvline(threshold, linestyle="--", color="grey", label=f"chosen threshold {threshold:.3f}")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.01)
            ax.set_xlabel("threshold on the best in-scope probability")
            ax.set_title("Out-of-scope detection as the threshold moves")
            ax.legend(loc="lower left")
            fig.tight_layout()
            fig.savefig(path, dpi=100)
        finally:
            plt.close(fig)
