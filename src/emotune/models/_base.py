"""The model contract: a :class:`ModelSpec` per architecture, registered by name in :data:`MODELS`.

A spec says how to build a ``torch.nn.Module`` from a flat ``params`` dict (one
configuration of its search space) and which spaces to search. Every built model
has the same call signature::

    logits = model(x, mask)   # logits: float32, shape (B, n_classes)

with ``x`` a LongTensor ``(B, T)`` of token ids (pad id 0), a FloatTensor
``(B, T, F)`` of per-step features, or a FloatTensor ``(B, F)`` of one feature
vector per sample, and ``mask`` a BoolTensor ``(B, T)`` that is True at real
steps (``None`` for vectors). Masks are right-padded: the real steps of every
sample come first and each sample has at least one.

Parameter keys are split between two consumers:

* :data:`TRAINER_KEYS` (``lr``, ``batch_size``, ``weight_decay``, ``optimizer``,
  ``epochs``) are read by the trainer; ``build`` ignores them;
* every other key is read by the model's ``build``, which rejects keys it does
  not know (so a typo in a config fails loudly instead of silently searching
  nothing).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from emotune._registry import Registry
from emotune.exceptions import ConfigError
from emotune.search.spaces import Space

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from emotune.models.inputs import InputSpec

__all__ = [
    "ModelSpec",
    "MODELS",
    "TRAINER_KEYS",
    "INPUT_KINDS",
    "resolve_params",
    "check_int",
    "check_rate",
    "build_model",
]

TRAINER_KEYS: frozenset[str] = frozenset({"lr", "batch_size", "weight_decay", "optimizer", "epochs"})
"""Keys of a configuration that the trainer consumes; models ignore them."""

INPUT_KINDS: tuple[str, ...] = ("tokens", "frames", "vector")
"""The kinds of input an :class:`~emotune.models.inputs.InputSpec` can describe."""


@dataclass(frozen=True)
class ModelSpec:
    """One registered architecture.

    Args:
        name: registry name (``"lstm_sa"``).
        build: ``build(params, *, n_classes, input_spec) -> nn.Module``; ``params``
            may omit keys (``defaults`` fill them) and may carry trainer keys.
        default_space: the space searched when a config names no preset; it
            includes the trainer keys the model is usually tuned with.
        presets: further named spaces (configurations, not subclasses).
        description: one line for listings.
        defaults: values used for keys missing from ``params`` (trainer keys
            included, e.g. the paper's learning rate).
        input_kinds: the :class:`InputSpec` kinds ``build`` accepts.
    """

    name: str
    build: Callable[..., "nn.Module"]
    default_space: Space
    presets: dict[str, Space] = field(default_factory=dict)
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    input_kinds: tuple[str, ...] = INPUT_KINDS

    def __post_init__(self) -> None:
        if not isinstance(self.default_space, Space):
            raise ConfigError(f"model {self.name!r}: default_space must be a Space, got {self.default_space!r}")
        for key, space in self.presets.items():
            if not isinstance(space, Space):
                raise ConfigError(f"model {self.name!r}: preset {key!r} must be a Space, got {space!r}")
        unknown = set(self.input_kinds) - set(INPUT_KINDS)
        if unknown:
            raise ConfigError(f"model {self.name!r}: input_kinds must be among {INPUT_KINDS}, got {sorted(unknown)}")

    def space(self, preset: str | None = None) -> Space:
        """``default_space`` for ``None``, else the named preset (unknown names list the known ones)."""
        if preset is None:
            return self.default_space
        try:
            return self.presets[preset]
        except KeyError:
            raise ConfigError(
                f"model {self.name!r} has no preset {preset!r}; known: {sorted(self.presets) or '(none)'}"
            ) from None


MODELS: Registry[ModelSpec] = Registry("model")


def resolve_params(
    name: str,
    params: Mapping[str, Any] | None,
    *,
    n_classes: int,
    input_spec: "InputSpec",
    input_kinds: tuple[str, ...],
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """Check a build call and return the model's own parameters.

    The result is ``defaults`` updated by ``params``, with trainer keys dropped.

    Raises:
        ConfigError: ``n_classes`` < 2, an input kind ``name`` does not accept,
            or a key that is neither a trainer key nor one of ``defaults``.
    """
    if int(n_classes) != n_classes or n_classes < 2:
        raise ConfigError(f"model {name!r}: n_classes must be an integer >= 2, got {n_classes!r}")
    if input_spec.kind not in input_kinds:
        raise ConfigError(f"model {name!r} accepts inputs of kind {list(input_kinds)}, got kind={input_spec.kind!r}")
    params = dict(params or {})
    known = {k for k in defaults if k not in TRAINER_KEYS}
    unknown = sorted(k for k in params if k not in known and k not in TRAINER_KEYS)
    if unknown:
        raise ConfigError(
            f"model {name!r} got unknown parameters {unknown}; "
            f"it reads {sorted(known)} and the trainer reads {sorted(TRAINER_KEYS)}"
        )
    merged = {k: v for k, v in defaults.items() if k not in TRAINER_KEYS}
    merged.update({k: v for k, v in params.items() if k not in TRAINER_KEYS})
    return merged


def check_int(model: str, key: str, value: Any, low: int = 1) -> int:
    """``value`` as an int, or :class:`ConfigError` naming ``model`` and ``key`` if it is not an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < low:
        raise ConfigError(f"model {model!r}: {key} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_rate(model: str, key: str, value: Any) -> float:
    """``value`` as a float in [0, 1), or :class:`ConfigError` naming ``model`` and ``key``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"model {model!r}: {key} must be a rate in [0, 1), got {value!r}")
    return float(value)


def module_builder(
    name: str, cls: Callable[..., "nn.Module"], defaults: Mapping[str, Any], input_kinds: tuple[str, ...]
) -> Callable[..., "nn.Module"]:
    """The ``build`` of a model whose constructor takes ``n_classes``, ``input_spec`` and the resolved params.

    The returned function checks its call with :func:`resolve_params` (``defaults``
    fill missing keys, trainer keys are dropped) and constructs ``cls``.
    """

    def build(params: Mapping[str, Any], *, n_classes: int, input_spec: "InputSpec") -> "nn.Module":
        p = resolve_params(
            name, params, n_classes=n_classes, input_spec=input_spec, input_kinds=input_kinds, defaults=defaults
        )
        return cls(n_classes=n_classes, input_spec=input_spec, **p)

    build.__doc__ = f"Build :class:`{cls.__name__}` from flat params (trainer keys ignored)."
    return build


def build_model(
    name: str, params: Mapping[str, Any] | None = None, *, n_classes: int, input_spec: "InputSpec"
) -> "nn.Module":
    """Build the model registered as ``name`` (importing :mod:`emotune.models` registers them all)."""
    import emotune.models  # noqa: F401  (registers every model)

    spec = MODELS.get(name)
    return spec.build(dict(params or {}), n_classes=n_classes, input_spec=input_spec)
