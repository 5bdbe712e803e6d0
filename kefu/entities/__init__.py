"""Entities: the span type, annotation readers, rule-based extractors and entity-level metrics."""

from kefu.entities.annotations import (
    from_bio,
    from_span_json,
    join_tokens,
    parse_inline,
    read_bio_dataset,
    read_span_jsonl,
    to_bio,
)
from kefu.entities.metrics import entity_scores
from kefu.entities.rules import (
    BUILTINS,
    BuiltinRule,
    RegexRule,
    RuleExtractor,
    extract_dates,
    extract_emails,
    extract_money,
    extract_phones,
    extract_times,
    from_config,
)
from kefu.entities.spans import Entity

__all__ = [
    "BUILTINS",
    "BuiltinRule",
    "Entity",
    "RegexRule",
    "RuleExtractor",
    "entity_scores",
    "extract_dates",
    "extract_emails",
    "extract_money",
    "extract_phones",
    "extract_times",
    "from_bio",
    "from_config",
    "from_span_json",
    "join_tokens",
    "parse_inline",
    "read_bio_dataset",
    "read_span_jsonl",
    "to_bio",
]
