"""Loading, checking and splitting labelled examples."""

from kefu.data.examples import Example, Issue
from kefu.data.loaders import load_dataset, load_examples
from kefu.data.split import stratified_split
from kefu.data.validation import clean, validate

__all__ = [
    "Example",
    "Issue",
    "clean",
    "load_dataset",
    "load_examples",
    "stratified_split",
    "validate",
]
