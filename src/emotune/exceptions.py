"""The small hierarchy of errors emotune raises.

Library code raises these; only the CLI prints them and sets the exit code.
Each leaf also subclasses the builtin a user would expect to catch.
"""

from __future__ import annotations

__all__ = [
    "EmotuneError",
    "ConfigError",
    "SpaceError",
    "RegistryError",
    "DatasetError",
    "FeatureError",
    "TrialFailed",
    "StorageCorrupt",
    "StudyInterrupted",
    "BundleError",
]


class EmotuneError(Exception):
    """Base class of every error emotune raises on purpose."""


class ConfigError(EmotuneError, ValueError):
    """A configuration value breaks a rule (names the argument, rule and value)."""


class SpaceError(ConfigError):
    """A search space or parameter definition is invalid."""


class RegistryError(EmotuneError, KeyError):
    """A name is unknown to, or already taken in, a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class DatasetError(EmotuneError, ValueError):
    """Input data is missing, malformed or unusable (names file, row and field)."""


class FeatureError(EmotuneError, RuntimeError):
    """A feature extractor could not process an input."""


class TrialFailed(EmotuneError, RuntimeError):
    """An objective evaluation failed (raised error, NaN loss, ...)."""


class BundleError(ConfigError):
    """A model bundle is missing, tampered with, or of a format this version cannot read (names the file)."""


class StorageCorrupt(EmotuneError, RuntimeError):
    """A study file is torn, truncated or not a study (the message says what can be recovered)."""


class StudyInterrupted(EmotuneError):
    """A study stopped on Ctrl-C; its trials are saved and it can be resumed (the message says how)."""
