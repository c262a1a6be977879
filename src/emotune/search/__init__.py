"""emotune.search: typed spaces, ask/tell optimizers and the study loop.

Pure NumPy (plus Optuna for TPE): it knows nothing about emotions, PyTorch or files.

>>> from emotune.search import Space, Float, Int, Categorical, Study
>>> space = Space({"lr": Float(1e-4, 1e-2, log=True), "hidden": Int(50, 200)})
>>> study = Study(space, optimizer="random", direction="minimize", seed=0)
>>> best = study.optimize(lambda p: (p["hidden"] - 120) ** 2, trials=20)
"""

from emotune.search.optimizers import OPTIMIZERS, Candidate, Optimizer, make_optimizer
from emotune.search.spaces import Bits, Categorical, Float, Int, Space
from emotune.search.study import Study, TrialPruned, TrialRecord, TrialState

__all__ = [
    "Space",
    "Float",
    "Int",
    "Categorical",
    "Bits",
    "Study",
    "TrialRecord",
    "TrialState",
    "TrialPruned",
    "OPTIMIZERS",
    "Optimizer",
    "Candidate",
    "make_optimizer",
]
