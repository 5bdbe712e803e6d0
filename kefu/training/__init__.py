"""Training: configuration, schedules, augmentation and the fit loop."""

from kefu.nlu.train_config import TrainConfig
from kefu.training.trainer import fit

__all__ = ["TrainConfig", "fit"]
