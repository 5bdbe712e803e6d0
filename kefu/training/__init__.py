"""Training: configuration, schedules, augmentation and the fit loop."""

from kefu.training.config import TrainConfig
from kefu.training.trainer import fit

__all__ = ["TrainConfig", "fit"]
