"""emotune: emotion and sentiment recognition tuned by metaheuristic search.

Heavy libraries (torch, librosa, transformers) load lazily, so ``import emotune``
is fast.
"""

from emotune.exceptions import (
    ConfigError,
    DatasetError,
    EmotuneError,
    FeatureError,
    RegistryError,
    SpaceError,
    TrialFailed,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "EmotuneError",
    "ConfigError",
    "SpaceError",
    "RegistryError",
    "DatasetError",
    "FeatureError",
    "TrialFailed",
]
