"""Find problems in loaded examples (empty texts, contradictory labels, duplicates, thin labels) and
drop the examples that cannot be trained on."""

import unicodedata
from collections import Counter

from kefu.data.examples import Example
from kefu.problems import Problem


def validate(examples: list[Example], min_per_label: int = 2, source: str = "<memory>") -> list[Problem]:
    """Return the issues found in ``examples``, in example order, without raising.

    Warnings about an example that :func:`clean` will drop end in "skipped"; errors (about the data
    set as a whole, reported against ``source``) mean there is nothing to train on.
    """
    if not examples:
        return [Problem(source, None, "no examples")]
    skipped = _skipped_examples(examples)
    issues = [skipped[index] for index in sorted(skipped)]
    kept = [example for index, example in enumerate(examples) if index not in skipped]
    issues += _thin_labels(examples, kept, min_per_label)
    labels = list(dict.fromkeys(example.label for example in kept))
    if len(labels) < 2:
        found = f"{len(labels)} ({labels[0]!r})" if labels else "none"
        issues.append(Problem(source, None, f"need at least two labels, found {found}"))
    return issues


def clean(examples: list[Example], issues: list[Problem]) -> list[Example]:
    """Return ``examples`` without those the issues (from ``validate(examples)``) skip, in order."""
    skipped = {issue.skipped_index for issue in issues if issue.skipped_index is not None}
    return [example for index, example in enumerate(examples) if index not in skipped]


def _normalise(text: str) -> str:
    # NFKC folds full-width forms, common in Chinese input, onto their ASCII equivalents
    return unicodedata.normalize("NFKC", text).strip().lower()


def _skipped_examples(examples: list[Example]) -> dict[int, Problem]:
    """Map the index of every example that must be dropped to the warning saying why."""
    skipped: dict[int, Problem] = {}

    def skip(index: int, message: str) -> None:
        example = examples[index]
        skipped[index] = Problem(example.source, example.line, message, "warning", skipped_index=index)

    same_text: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        if not example.text.strip():
            skip(index, "empty text (skipped)")
        elif not example.label:
            skip(index, "empty label (skipped)")
        else:
            same_text.setdefault(_normalise(example.text), []).append(index)

    for indices in same_text.values():
        first_by_label: dict[str, Example] = {}
        for index in indices:
            first_by_label.setdefault(examples[index].label, examples[index])
        if len(first_by_label) > 1:
            # a model cannot learn both answers, and keeping either one would be a guess
            message = _conflict_message(examples[indices[0]].text.strip(), first_by_label)
            for index in indices:
                skip(index, message)
        else:
            first = examples[indices[0]]
            original = f"line {first.line}" if first.line is not None else repr(first.text.strip())
            for index in indices[1:]:
                skip(index, f"duplicate of {original} (skipped)")
    return skipped


def _conflict_message(text: str, first_by_label: dict[str, Example]) -> str:
    places = [f"{label!r}{_at_line(example)}" for label, example in first_by_label.items()]
    if len(places) == 2:
        return f"text {text!r} is labelled both {places[0]} and {places[1]}; both are skipped"
    return f"text {text!r} is labelled {', '.join(places[:-1])} and {places[-1]}; all are skipped"


def _at_line(example: Example) -> str:
    return f" (line {example.line})" if example.line is not None else ""


def _thin_labels(examples: list[Example], kept: list[Example], min_per_label: int) -> list[Problem]:
    """Warn about labels left with fewer than ``min_per_label`` examples, in order of first appearance."""
    counts = Counter(example.label for example in kept)
    # point at the first kept example, or at the first example at all when none was kept
    first: dict[str, Example] = {}
    for example in kept + examples:
        first.setdefault(example.label, example)
    order = dict.fromkeys(example.label for example in examples if example.label)
    issues = []
    for label in order:
        count = counts[label]
        if count >= min_per_label:
            continue
        if count == 0:
            message = f"label {label!r} has no usable examples (minimum {min_per_label})"
        else:
            plural = "example" if count == 1 else "examples"
            message = f"label {label!r} has only {count} {plural} (minimum {min_per_label})"
        issues.append(Problem(first[label].source, first[label].line, message, "warning"))
    return issues
