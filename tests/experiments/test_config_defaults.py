"""TuneConfig fills only the keys a user left unset with the task's defaults."""

import pytest

from emotune.experiments.config import TuneConfig


@pytest.mark.parametrize("task, features, model", [
    ("text", "tokens", "sa_lstm"),
    ("speech", "whisper_base_pooled", "mlp"),
    ("face", "mx_hog", "linear"),
    ("multimodal", "egemaps", "mlp"),
])
def test_unset_features_and_model_take_the_tasks_defaults(task, features, model):
    cfg = TuneConfig(task=task)
    assert (cfg.features, cfg.model) == (features, model)


def test_an_explicit_choice_equal_to_another_tasks_default_is_kept():
    # "sa_lstm" is the text default; asked for by name on a speech run it must not become "mlp".
    cfg = TuneConfig(task="speech", features="mfcc", model="sa_lstm")
    assert (cfg.features, cfg.model) == ("mfcc", "sa_lstm")


def test_a_multimodal_run_refuses_an_existing_run_directory(tmp_path):
    # The guard runs before any data is read, for every task: a multimodal run never writes into an old run.
    from emotune.exceptions import ConfigError
    from emotune.experiments.tune import run_tune

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("task: text\n")
    cfg = TuneConfig(task="multimodal", dataset="ravdess-av", data_dir=str(tmp_path / "absent"), out=str(out))
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        run_tune(cfg)
    with pytest.raises(ConfigError, match="cannot be resumed"):
        run_tune(cfg, if_exists="resume")
    assert (out / "config.yaml").read_text() == "task: text\n"
