"""Neural classifiers, one architecture per module, registered by name in :data:`MODELS`.

PyTorch only; no data or file access. Build one with::

    from emotune.models import MODELS, InputSpec
    spec = MODELS.get("lstm_sa")
    model = spec.build(params, n_classes=3, input_spec=InputSpec("tokens", vocab_size=20_000, embedding_dim=300))
    logits = model(x, mask)          # (B, n_classes)

``params`` is one configuration of ``spec.default_space`` (or of a preset in
``spec.presets``); the keys ``lr``, ``batch_size``, ``weight_decay``,
``optimizer`` and ``epochs`` (:data:`TRAINER_KEYS`) are consumed by the trainer,
the rest by the model.

Registered models: ``lstm_sa`` (GA-searched LSTM self-attention, preset
``lstm_sa_ga21``), ``sa_lstm`` (BiLSTM + additive attention), ``bilstm_tcsa``
(residual BiLSTM + TextCNN + self-attention), ``cnn_bilstm`` (Conv1D + BiLSTM
audio branch), ``mlp`` and ``linear`` (logistic regression).
"""

from __future__ import annotations

from emotune.models._base import INPUT_KINDS, MODELS, TRAINER_KEYS, ModelSpec, build_model
from emotune.models.inputs import InputLayer, InputSpec
from emotune.models.lstm_sa_config import GA21_SPACE, LstmSaConfig, decode_ga21, encode_ga21
from emotune.models import lstm_sa  # noqa: F401  (registers "lstm_sa")
from emotune.models import sa_lstm  # noqa: F401  (registers "sa_lstm")
from emotune.models import bilstm_tcsa  # noqa: F401  (registers "bilstm_tcsa")
from emotune.models import cnn_bilstm  # noqa: F401  (registers "cnn_bilstm")
from emotune.models import mlp  # noqa: F401  (registers "mlp")
from emotune.models import linear  # noqa: F401  (registers "linear")
from emotune.models import fusion  # noqa: F401  (registers "fusion_mlp")
from emotune.models import face_cnn  # noqa: F401  (registers "face_cnn")
from emotune.models import mocap_cnn  # noqa: F401  (registers "mocap_cnn")
from emotune.models import minilm_ft  # noqa: F401  (registers "minilm_ft")

__all__ = [
    "MODELS",
    "ModelSpec",
    "TRAINER_KEYS",
    "INPUT_KINDS",
    "InputSpec",
    "InputLayer",
    "build_model",
    "LstmSaConfig",
    "GA21_SPACE",
    "decode_ga21",
    "encode_ga21",
]
