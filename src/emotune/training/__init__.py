"""Training: the supervised loop, its callbacks (early stopping, LR schedule).

Importing this package loads PyTorch.
"""

from emotune.training.callbacks import EarlyStopping, make_plateau_scheduler
from emotune.training.trainer import (
    OPTIMIZERS,
    TensorSplit,
    TrainConfig,
    TrainResult,
    class_weights,
    predict_proba,
    train,
)

__all__ = [
    "OPTIMIZERS",
    "TrainConfig",
    "TensorSplit",
    "TrainResult",
    "train",
    "predict_proba",
    "class_weights",
    "EarlyStopping",
    "make_plateau_scheduler",
]
