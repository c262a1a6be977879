"""TuneConfig fills only the keys a user left unset with the task's defaults."""

import pytest

from emotune.experiments.config import TuneConfig


@pytest.mark.parametrize("task, features, model", [
    ("text", "tokens", "sa_lstm"),
    ("speech", "whisper_base_pooled", "mlp"),
    ("face", "mini_xception", "mlp"),
    ("multimodal", "egemaps", "mlp"),
])
def test_unset_features_and_model_take_the_tasks_defaults(task, features, model):
    cfg = TuneConfig(task=task)
    assert (cfg.features, cfg.model) == (features, model)


def test_an_explicit_choice_equal_to_another_tasks_default_is_kept():
    # "sa_lstm" is the text default; asked for by name on a speech run it must not become "mlp".
    cfg = TuneConfig(task="speech", features="mfcc", model="sa_lstm")
    assert (cfg.features, cfg.model) == ("mfcc", "sa_lstm")
