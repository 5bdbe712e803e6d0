"""The one exception tree of kefu.

KefuError
 +-- DataError      a data file is missing, unreadable or invalid (message names file and line)
 +-- ConfigError    a configuration value is out of range or unknown (message names the field)
 +-- ArtifactError  a model directory is missing a file, corrupt, or of an unsupported format
 +-- CheckpointError  a training checkpoint is unusable, or belongs to another run

The CLI prints ``str(error)`` as one line and exits non-zero; nothing else is caught.
"""


class KefuError(Exception):
    """Base of every error kefu raises on purpose; its message is meant for the user."""


class DataError(KefuError):
    """Input data cannot be used."""


class ConfigError(KefuError):
    """A configuration value is invalid."""


class ArtifactError(KefuError):
    """A saved model cannot be loaded."""


class CheckpointError(KefuError):
    """A training checkpoint cannot be written, or cannot be resumed from."""
