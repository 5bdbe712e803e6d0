"""kefu: self-hosted AI customer service."""

__version__ = "0.1.0"
