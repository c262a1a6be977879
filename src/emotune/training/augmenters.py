"""Training-data augmenters, as trainer hooks: the seed paper's GAN-perturbed texts.

BiLSTM-TCSA (the text seed paper) trains on its data plus perturbed texts made by a
GAN, about one tenth of the training size, with the generator's dropout rate ``d_p``
a searched hyperparameter, and reports about +1 point from it. Here the GAN works
on the embedding sequences the classifier reads (frames ``(T, F)``, e.g. MiniLM
token states):

* generator ``G(z, x)``: per step, ``[x_t ; z_t] -> Linear -> ReLU -> Dropout(d_p)
  -> Linear -> r_t``, perturbed sequence ``x'_t = x_t + r_t`` on the real steps
  (padding stays zero), so ``x'`` has the length and mask of ``x``;
* discriminator ``D(x)``: masked mean and max over steps of a per-step
  ``Linear -> LeakyReLU`` -> logit of "real";
* losses: ``D`` minimises ``BCE(D(x), 1) + BCE(D(G(z, x)), 0)``; ``G`` minimises
  ``BCE(D(G(z, x)), 1) + lambda * mean ||r_t||^2 / ||x_t||^2`` (non-saturating
  GAN loss; the second term keeps a perturbed text close enough to its source to
  keep its label);
* after ``epochs`` of alternating updates, ``round(ratio * n)`` sources are drawn
  (seeded) and perturbed with dropout active, so ``d_p`` sets how different two
  perturbations of one source are; each perturbed sample keeps its source's label.

:class:`GanAugmenter` is a trainer hook (``on_train_data``): ``train`` calls it
once before the first epoch and trains on the returned, larger split. Validation
and test data are never augmented.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emotune.exceptions import ConfigError

__all__ = ["Generator", "Discriminator", "GanAugmenter", "augmenters_from_params", "AUGMENTS"]

AUGMENTS = ("none", "fgm", "gan")
"""``augment`` values: none, FGM adversarial training (trainer's ``fgm_epsilon``), GAN-perturbed samples."""


class Generator(nn.Module):
    """``G(z, x)``: a perturbed copy of ``x`` (same shape), dropout ``d_p`` inside.

    ``forward(x, mask, z)``: ``x`` float ``(B, T, F)``, ``mask`` bool ``(B, T)``, ``z`` float
    ``(B, T, noise_dim)`` -> float ``(B, T, F)``, zero at padded steps.
    """

    def __init__(self, feature_dim: int, *, d_p: float, hidden: int = 128, noise_dim: int = 16) -> None:
        super().__init__()
        if not 0.0 < float(d_p) < 1.0:
            raise ConfigError(f"gan_dp (the generator's dropout rate d_p) must be in (0, 1), got {d_p!r}")
        self.noise_dim = int(noise_dim)
        self.net = nn.Sequential(
            nn.Linear(feature_dim + self.noise_dim, hidden), nn.ReLU(), nn.Dropout(float(d_p)),
            nn.Linear(hidden, feature_dim),
        )

    @property
    def d_p(self) -> float:
        return float(self.net[2].p)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r = self.net(torch.cat([x, z], dim=-1))
        return (x + r) * mask.unsqueeze(-1).to(x.dtype)


class Discriminator(nn.Module):
    """``D(x)``: logit ``(B,)`` that a sequence is real. ``forward(x (B, T, F), mask (B, T))``."""

    def __init__(self, feature_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.step = nn.Sequential(nn.Linear(feature_dim, hidden), nn.LeakyReLU(0.2))
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.step(x)
        m = mask.unsqueeze(-1).to(h.dtype)
        mean = (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        peak = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
        return self.out(torch.cat([mean, peak], dim=-1)).squeeze(-1)


class GanAugmenter:
    """Adds GAN-perturbed copies of training sequences (labels kept) before training.

    Args:
        d_p: generator dropout rate in (0, 1) (searched, as in the paper).
        ratio: perturbed samples per training sample (the paper: about 0.1).
        epochs: GAN training epochs over the training split.
        batch_size: GAN mini-batch size.
        lr: Adam learning rate of both networks.
        closeness: ``lambda``, weight of the relative perturbation size in G's loss.
        seed: seeds noise, batches and the choice of sources.

    Hook: ``on_train_data(train: TensorSplit) -> TensorSplit``. Needs float frames
    ``(n, T, F)`` with a mask; token ids (a trainable embedding inside the model) are refused.
    After the call, ``generator`` holds the trained generator and ``sources`` the indices
    of the perturbed samples' sources.
    """

    def __init__(self, d_p: float, *, ratio: float = 0.1, epochs: int = 3, batch_size: int = 64, lr: float = 1e-3,
                 closeness: float = 1.0, seed: int = 0) -> None:
        if not 0.0 < float(d_p) < 1.0:
            raise ConfigError(f"gan_dp (the generator's dropout rate d_p) must be in (0, 1), got {d_p!r}")
        if not 0.0 < float(ratio) <= 1.0:
            raise ConfigError(f"GAN augmentation ratio must be in (0, 1], got {ratio!r}")
        self.d_p, self.ratio, self.epochs = float(d_p), float(ratio), int(epochs)
        self.batch_size, self.lr, self.closeness, self.seed = int(batch_size), float(lr), float(closeness), int(seed)
        self.generator: Generator | None = None
        self.sources: np.ndarray | None = None

    def fit(self, x: torch.Tensor, mask: torch.Tensor) -> Generator:
        """Train G and D adversarially on real sequences ``x`` ``(n, T, F)`` with ``mask`` ``(n, T)``."""
        gen = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        g = Generator(x.shape[2], d_p=self.d_p)
        d = Discriminator(x.shape[2])
        opt_g = torch.optim.Adam(g.parameters(), lr=self.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d.parameters(), lr=self.lr, betas=(0.5, 0.999))
        n = x.shape[0]
        for _ in range(self.epochs):
            for idx in torch.randperm(n, generator=gen).split(self.batch_size):
                xb, mb = x[idx].float(), mask[idx]
                z = torch.randn(*xb.shape[:2], g.noise_dim, generator=gen)
                fake = g(xb, mb, z)
                real_logit, fake_logit = d(xb, mb), d(fake.detach(), mb)
                loss_d = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                          + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
                opt_d.zero_grad()
                loss_d.backward()
                opt_d.step()
                fooled = d(fake, mb)
                m = mb.unsqueeze(-1).float()
                rel = ((fake - xb) ** 2 * m).sum() / ((xb ** 2) * m).sum().clamp_min(1e-12)
                loss_g = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled)) + self.closeness * rel
                opt_g.zero_grad()
                loss_g.backward()
                opt_g.step()
        self.generator = g
        return g

    def perturb(self, x: torch.Tensor, mask: torch.Tensor, sources: np.ndarray) -> torch.Tensor:
        """Perturbed copies of ``x[sources]`` ``(k, T, F)``; dropout ``d_p`` stays active."""
        if self.generator is None:
            raise ConfigError("GanAugmenter.perturb before fit")
        gen = torch.Generator().manual_seed(self.seed + 1)
        idx = torch.as_tensor(sources, dtype=torch.long)
        self.generator.train()  # dropout on: d_p sets the spread of the perturbations
        with torch.no_grad():
            z = torch.randn(len(idx), x.shape[1], self.generator.noise_dim, generator=gen)
            return self.generator(x[idx].float(), mask[idx], z).to(x.dtype)

    def on_train_data(self, train: Any) -> Any:
        """The training split plus ``round(ratio * n)`` perturbed samples with their sources' labels."""
        from emotune.training.trainer import TensorSplit

        if not train.x.is_floating_point() or train.x.ndim != 3 or train.mask is None:
            raise ConfigError(
                "augment: gan perturbs embedding sequences: it needs float frames (n, T, F) with a mask, e.g. "
                f"features minilm or minilm_layers, got {train.x.dtype} inputs of shape {tuple(train.x.shape)}"
            )
        n = len(train)
        k = max(1, int(round(self.ratio * n)))
        self.fit(train.x, train.mask)
        rng = np.random.default_rng(self.seed)
        self.sources = rng.choice(n, size=k, replace=k > n)
        fake = self.perturb(train.x, train.mask, self.sources)
        src = torch.as_tensor(self.sources, dtype=torch.long)
        return TensorSplit(torch.cat([train.x, fake]), torch.cat([train.y, train.y[src]]),
                           torch.cat([train.mask, train.mask[src]]))


def augmenters_from_params(augment: str, params: Mapping[str, Any], *, seed: int = 0) -> list[Any]:
    """The trainer hooks for ``augment`` (``none``/``fgm`` need none; ``gan`` reads ``gan_dp``)."""
    if augment not in AUGMENTS:
        raise ConfigError(f"augment must be one of {AUGMENTS}, got {augment!r}")
    if augment != "gan":
        return []
    return [GanAugmenter(float(params.get("gan_dp", 0.5)), seed=seed)]
