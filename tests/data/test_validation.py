"""Tests for validate() and clean(): each rule, with the file path and line in its message."""

from pathlib import Path

from kefu.data import Example, clean, load_examples, validate
from kefu.problems import Problem


def load_csv(tmp_path: Path, rows: str) -> tuple[str, list[Example]]:
    path = tmp_path / "data.csv"
    path.write_text("text,label\n" + rows, encoding="utf-8")
    return str(path), load_examples(path)


def messages(issues: list[Problem]) -> list[str]:
    """The problems as `kefu validate FILE` shows them after their severity."""
    return [issue.located() for issue in issues]


def test_clean_data_has_no_issues(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\nbye,bye\nciao,bye\n")
    assert validate(examples, source=path) == []
    assert clean(examples, []) == examples


def test_empty_text_is_skipped(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\n   ,greet\nhello,greet\nbye,bye\nciao,bye\n")
    issues = validate(examples, source=path)
    assert messages(issues) == [f"{path}:3: empty text (skipped)"]
    assert issues[0].severity == "warning"
    assert [example.text for example in clean(examples, issues)] == ["hi", "hello", "bye", "ciao"]


def test_conflicting_labels_skip_every_copy(tmp_path):
    rows = "xyz,a\nfoo,a\n  XYZ ,b\nbar,a\nbaz,b\nqux,b\nxyz,a\n"
    path, examples = load_csv(tmp_path, rows)
    issues = validate(examples, source=path)
    message = "text 'xyz' is labelled both 'a' (line 2) and 'b' (line 4); both are skipped"
    assert messages(issues) == [f"{path}:{line}: {message}" for line in (2, 4, 8)]
    assert [example.line for example in clean(examples, issues)] == [3, 5, 6, 7]


def test_conflict_between_three_labels(tmp_path):
    path, examples = load_csv(tmp_path, "yes,a\nyes,b\nyes,c\n")
    message = "text 'yes' is labelled 'a' (line 2), 'b' (line 3) and 'c' (line 4); all are skipped"
    assert messages(validate(examples, source=path))[0] == f"{path}:2: {message}"


def test_exact_duplicates_keep_the_first(tmp_path):
    path, examples = load_csv(
        tmp_path, "hello,greet\nhi,greet\nHello ,greet\nbye,bye\nhello,greet\nciao,bye\n"
    )
    issues = validate(examples, source=path)
    assert messages(issues) == [
        f"{path}:4: duplicate of line 2 (skipped)",
        f"{path}:6: duplicate of line 2 (skipped)",
    ]
    assert [example.line for example in clean(examples, issues)] == [2, 3, 5, 7]


def test_duplicates_are_found_after_nfkc_normalisation(tmp_path):
    # full-width letters and the ideographic space are what Chinese input methods often produce
    path, examples = load_csv(tmp_path, "ＨＥＬＬＯ\u3000,greet\nhello,greet\nhi,greet\nbye,bye\nciao,bye\n")
    assert messages(validate(examples, source=path)) == [f"{path}:3: duplicate of line 2 (skipped)"]


def test_label_with_too_few_examples_is_warned_about_but_kept(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\nbye,bye\nhey,greet\n")
    issues = validate(examples, source=path)
    assert messages(issues) == [f"{path}:4: label 'bye' has only 1 example (minimum 2)"]
    assert clean(examples, issues) == examples
    assert messages(validate(examples, min_per_label=3, source=path)) == [
        f"{path}:4: label 'bye' has only 1 example (minimum 3)"
    ]
    assert messages(validate(examples, min_per_label=4, source=path)) == [
        f"{path}:2: label 'greet' has only 3 examples (minimum 4)",
        f"{path}:4: label 'bye' has only 1 example (minimum 4)",
    ]


def test_label_count_is_taken_after_skipping(tmp_path):
    # "bye" has two rows, but one is a duplicate, so only one is left to train on
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\nbye,bye\nbye,bye\n")
    assert messages(validate(examples, source=path)) == [
        f"{path}:5: duplicate of line 4 (skipped)",
        f"{path}:4: label 'bye' has only 1 example (minimum 2)",
    ]


def test_label_whose_examples_are_all_skipped(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\nok,yes\nok,no\nfine,no\n")
    issues = validate(examples, source=path)
    assert f"{path}:4: label 'yes' has no usable examples (minimum 2)" in messages(issues)
    assert f"{path}:6: label 'no' has only 1 example (minimum 2)" in messages(issues)


def test_a_single_label_is_an_error(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\n")
    issues = validate(examples, source=path)
    assert issues == [Problem(path, None, "need at least two labels, found 1 ('greet')")]
    assert str(issues[0]) == f"{path}: need at least two labels, found 1 ('greet')"


def test_second_label_lost_to_skipping_is_an_error(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\n ,bye\n")
    errors = [issue for issue in validate(examples, source=path) if issue.severity == "error"]
    assert messages(errors) == [f"{path}: need at least two labels, found 1 ('greet')"]


def test_no_examples_is_an_error():
    assert validate([], source="data.csv") == [Problem("data.csv", None, "no examples")]


def test_empty_label_is_skipped(tmp_path):
    path, examples = load_csv(tmp_path, "hi,greet\nhello,greet\nbye,bye\nciao,bye\nwhat,\n")
    issues = validate(examples, source=path)
    assert messages(issues) == [f"{path}:6: empty label (skipped)"]
    assert len(clean(examples, issues)) == 4


def test_in_memory_examples_without_line_numbers():
    examples = [
        Example("hi", "greet"),
        Example("hi", "greet"),
        Example("bye", "bye"),
        Example("ciao", "bye"),
        Example("hello", "greet"),
    ]
    issues = validate(examples)
    assert messages(issues) == ["<memory>: duplicate of 'hi' (skipped)"]
    # the two equal examples are told apart by position, so exactly one of them goes
    assert clean(examples, issues) == [examples[0], *examples[2:]]


def test_problem_str():
    assert Problem("a.csv", 3, "empty text (skipped)", "warning").located() == "a.csv:3: empty text (skipped)"
    assert str(Problem("a.csv", 3, "empty text (skipped)", "warning")) == "a.csv:3: warning: empty text (skipped)"
    assert str(Problem("a.csv", None, "no examples")) == "a.csv: no examples"
