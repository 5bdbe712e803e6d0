"""Loading, checking and splitting labelled examples."""

from kefu.data.examples import Example
from kefu.data.loaders import check_examples, load_dataset, load_examples
from kefu.data.sentiment import SENTIMENT_LABELS, sentiment_label_issues
from kefu.data.split import stratified_split
from kefu.data.validation import clean, validate

__all__ = [
    "SENTIMENT_LABELS",
    "Example",
    "check_examples",
    "clean",
    "load_dataset",
    "load_examples",
    "sentiment_label_issues",
    "stratified_split",
    "validate",
]
