"""Activation functions by name (``relu``, ``tanh``, ``leaky_relu``, ``elu``), as a registry."""

from __future__ import annotations

from torch import nn

from emotune._registry import Registry

__all__ = ["ACTIVATIONS", "make_activation"]

ACTIVATIONS: Registry[type[nn.Module]] = Registry("activation")
ACTIVATIONS.add("relu", nn.ReLU)
ACTIVATIONS.add("tanh", nn.Tanh)
ACTIVATIONS.add("leaky_relu", nn.LeakyReLU)
ACTIVATIONS.add("elu", nn.ELU)
ACTIVATIONS.add("gelu", nn.GELU)


def make_activation(name: str) -> nn.Module:
    """A new activation module registered as ``name`` (default arguments)."""
    return ACTIVATIONS.get(name)()
