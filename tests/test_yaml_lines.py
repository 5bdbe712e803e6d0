"""The shared YAML reader: lines of keys and items, duplicate keys, syntax errors as one Problem."""

import yaml

from kefu.problems import Problem
from kefu.yaml_lines import load_yaml, yaml_problem


def test_lines_of_keys_and_items():
    data, duplicates = load_yaml("a: 1\nb:\n  - x\n  - y\n")
    assert (data.line_of("a"), data.line_of("b"), data["b"].line_of(1)) == (1, 2, 4)
    assert duplicates == []


def test_a_key_written_twice_is_a_duplicate_but_overriding_a_merged_one_is_not():
    text = "_base: &base {zh: x, en: y}\nfallback:\n  <<: *base\n  en: z\nclarify: {zh: a, zh: b}\n"
    data, duplicates = load_yaml(text)
    assert data["fallback"] == {"zh": "x", "en": "z"}
    assert duplicates == [(5, "zh", 5)]


def test_a_syntax_error_is_one_problem_at_its_line():
    try:
        load_yaml("a: [1\n")
    except yaml.YAMLError as error:
        problem = yaml_problem(error, "f.yml")
    assert problem == Problem("f.yml", 2, "invalid YAML: expected ',' or ']', but got '<stream end>'")
    assert str(problem) == "f.yml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"
