"""kefu: self-hosted AI customer service."""

__version__ = "0.1.0"

from kefu.api import load, train
from kefu.nlu.model import Model, Prediction
from kefu.nlu.train_config import TrainConfig

__all__ = ["Model", "Prediction", "TrainConfig", "__version__", "load", "train"]
