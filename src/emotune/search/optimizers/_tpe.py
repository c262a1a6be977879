"""TPE: Optuna's Tree-structured Parzen Estimator behind emotune's ask/tell contract.

The strong baseline users know (Bergstra et al. 2011; Optuna's ``TPESampler``).
Each box dimension ``j`` is an Optuna ``FloatDistribution(0, 1)`` named
``x{j}``; Optuna does the modelling, emotune only translates. Failed trials
(``nan``/``inf``) are told as ``+inf``, which TPE ranks as the worst.

State: the history of (params, value or pending) is replayed into a fresh
Optuna study on load, and the sampler (with its RNG) is saved as pickled
bytes, so a resumed study proposes exactly what the uninterrupted one would.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np

from emotune.search.optimizers._base import OPTIMIZERS, Optimizer

__all__ = ["TPE"]


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@OPTIMIZERS.register("tpe")
class TPE(Optimizer):
    """Optuna TPE in the unit box.

    Args:
        n_startup_trials: random trials before TPE modelling starts (Optuna default 10).
        multivariate: model dimensions jointly (recommended for correlated parameters).
        constant_liar: treat candidates that were asked but not yet told as if they had the
            worst value seen so far, so a batch of parallel asks spreads out instead of
            proposing the same point N times (Optuna's constant-liar strategy). It has no
            effect on a serial study, where nothing is pending at ask time.
    """

    name = "tpe"

    def __init__(
        self,
        dim: int,
        *,
        budget: int = 100,
        seed: int | None = None,
        n_startup_trials: int = 10,
        multivariate: bool = True,
        constant_liar: bool = True,
    ) -> None:
        super().__init__(dim, budget=budget, seed=seed)
        self.n_startup_trials = int(n_startup_trials)
        self.multivariate = bool(multivariate)
        self.constant_liar = bool(constant_liar)
        self._history: list[list[Any]] = []  # [trial number, x list, value or None]
        self._study = None

    def _distributions(self) -> dict:
        optuna = _optuna()
        return {f"x{j}": optuna.distributions.FloatDistribution(0.0, 1.0) for j in range(self.dim)}

    def _make_sampler(self):
        optuna = _optuna()
        seed = None if self.seed is None else int(self.seed)
        with warnings.catch_warnings():  # multivariate and constant_liar are "experimental" in Optuna
            warnings.simplefilter("ignore")
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=self.n_startup_trials,
                multivariate=self.multivariate,
                constant_liar=self.constant_liar,
            )

    def _ensure_study(self, sampler=None):
        if self._study is None:
            optuna = _optuna()
            self._study = optuna.create_study(direction="minimize", sampler=sampler or self._make_sampler())
        return self._study

    def _propose(self, n: int) -> tuple[np.ndarray, list[Any]]:
        study = self._ensure_study()
        dists = self._distributions()
        X = np.empty((n, self.dim))
        tags = []
        for i in range(n):
            trial = study.ask(dists)
            X[i] = [trial.params[f"x{j}"] for j in range(self.dim)]
            tags.append(trial.number)
            self._history.append([trial.number, X[i].tolist(), None])
        return X, tags

    def _observe(self, tags: list[Any], X: np.ndarray, values: np.ndarray) -> None:
        study = self._ensure_study()
        by_number = {h[0]: h for h in self._history}
        for number, value in zip(tags, values):
            study.tell(int(number), float(value))
            by_number[int(number)][2] = float(value)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        sampler = self._study.sampler if self._study is not None else self._make_sampler()
        state["algo"] = {
            "history": [list(h) for h in self._history],
            "sampler": pickle.dumps(sampler),
            "n_startup_trials": self.n_startup_trials,
            "multivariate": self.multivariate,
            "constant_liar": self.constant_liar,
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        algo = state["algo"]
        base = dict(state, algo={})
        super().load_state_dict(base)
        optuna = _optuna()
        self.n_startup_trials = algo["n_startup_trials"]
        self.multivariate = algo["multivariate"]
        self.constant_liar = algo.get("constant_liar", True)
        self._history = [list(h) for h in algo["history"]]
        self._study = None
        study = self._ensure_study(sampler=pickle.loads(algo["sampler"]))
        dists = self._distributions()
        for number, x, value in sorted(self._history, key=lambda h: h[0]):
            params = {f"x{j}": float(v) for j, v in enumerate(x)}
            if value is None:
                trial = optuna.trial.create_trial(
                    params=params, distributions=dists, state=optuna.trial.TrialState.RUNNING
                )
            else:
                trial = optuna.trial.create_trial(params=params, distributions=dists, value=float(value))
            study.add_trial(trial)
