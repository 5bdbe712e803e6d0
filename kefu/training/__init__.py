"""Training: configuration, schedules, augmentation, the fit loop, and :func:`train`, the way in to it."""

from kefu.nlu.train_config import TrainConfig
from kefu.training.run import Data, train
from kefu.training.trainer import fit

__all__ = ["Data", "TrainConfig", "fit", "train"]
