"""Is a corpus's text a usable modality? Scripted sentences carry no emotion, or give the label away.

Acted speech corpora read the same sentences in every emotion (RAVDESS: two
sentences; CREMA-D: twelve; TESS: one carrier phrase with 200 words), so their
text carries no emotion; in others the script is written per emotion (SAVEE:
most of its sentences belong to one emotion), so the sentence *is* the label
and a text model scores near 100% for a reason that never holds outside the
corpus (SALSTM-LWARO's 97.73% on SAVEE). A multimodal report that uses such text
must warn and show the result without it.

:func:`check_text` decides from two sources:

* the corpus name (:data:`SCRIPTED_CORPORA`), when it is one of the known
  scripted corpora;
* the data: the normalised sentences (lower case, punctuation and spacing
  removed) and the labels. When sentences repeat (at most half as many distinct
  sentences as samples; unique sentences say nothing here), the *label
  information* is the uncertainty coefficient ``U = I(S; L) / H(L)`` of the
  sentence ``S`` about the label ``L`` (plug-in entropies, in nats), corrected
  for chance with the mean ``U`` of label permutations:
  ``U_adj = (U - U_perm) / (1 - U_perm)``. ``U_adj >= leak_info`` (default
  0.5): the sentence gives the label away (``label_leak``); otherwise, when the
  distinct sentences are at most ``fixed_ratio`` (default 0.1) of the samples:
  a fixed script (``fixed``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError

__all__ = ["SCRIPTED_CORPORA", "TextCheck", "check_text", "normalise_sentence", "label_information"]

SCRIPTED_CORPORA: dict[str, tuple[str, str]] = {
    "ravdess": ("fixed", "RAVDESS sentences are fixed (two sentences read in every emotion)"),
    "ravdess-av": ("fixed", "RAVDESS sentences are fixed (two sentences read in every emotion)"),
    "crema-d": ("fixed", "CREMA-D sentences are fixed (twelve sentences read in every emotion)"),
    "tess": ("fixed", "TESS sentences are fixed (one carrier phrase, the same 200 words in every emotion)"),
    "savee": ("label_leak", "SAVEE sentences give the label away (most of them are specific to one emotion)"),
}
"""Corpus name -> (verdict, reason) for the corpora whose script is known."""

_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalise_sentence(text: str) -> str:
    """Lower case, punctuation removed, runs of white space made one space, stripped."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", str(text).lower())).strip()


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _uncertainty(s: np.ndarray, y: np.ndarray) -> float:
    """``I(S; Y) / H(Y)`` (plug-in, nats); 0 when ``H(Y) = 0``."""
    h_y = _entropy(np.bincount(y))
    if h_y <= 0:
        return 0.0
    joint = np.bincount(s * (y.max() + 1) + y)
    mi = _entropy(np.bincount(s)) + h_y - _entropy(joint)
    return float(np.clip(mi / h_y, 0.0, 1.0))


def label_information(sentences: Sequence[str], labels: Sequence[Any], *, permutations: int = 5,
                      seed: int = 0) -> float:
    """The chance-corrected share of the label's entropy the sentence explains, ``U_adj`` in ``(-inf, 1]``.

    Args:
        sentences: ``n`` sentences (already normalised, or not: equal strings are one sentence).
        labels: ``n`` labels.
    """
    if len(sentences) != len(labels):
        raise ConfigError(f"sentences and labels must have the same length, got {len(sentences)} and {len(labels)}")
    _, s = np.unique(np.asarray(sentences, dtype=object).astype(str), return_inverse=True)
    _, y = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    u = _uncertainty(s, y)
    rng = np.random.default_rng(seed)
    u_perm = float(np.mean([_uncertainty(s, rng.permutation(y)) for _ in range(permutations)]))
    return float((u - u_perm) / (1.0 - u_perm)) if u_perm < 1.0 else 0.0


@dataclass(frozen=True)
class TextCheck:
    """The verdict on a corpus's text: ``verdict`` is ``"ok"``, ``"fixed"``, ``"label_leak"`` or ``"none"`` (no text).

    ``reason`` says why (``None`` when ``ok``); ``by`` lists the sources that flagged it (``"name"``,
    ``"data"``); ``n_texts``/``n_distinct``: samples with text and distinct normalised sentences;
    ``label_information``: ``U_adj`` (``None`` when sentences do not repeat).
    """

    verdict: str
    reason: str | None
    by: tuple[str, ...]
    n_texts: int
    n_distinct: int
    label_information: float | None

    @property
    def flagged(self) -> bool:
        return self.verdict in ("fixed", "label_leak")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "by": list(self.by), "flagged": self.flagged}


def check_text(texts: Sequence[str | None], labels: Sequence[Any], dataset: str | None = None, *,
               fixed_ratio: float = 0.1, leak_info: float = 0.5) -> TextCheck:
    """Whether the text of a corpus is scripted (see the module docstring).

    Args:
        texts: ``n`` texts (``None`` or empty: the sample has no text).
        labels: ``n`` labels.
        dataset: the corpus name (a key of :data:`SCRIPTED_CORPORA` flags it by name).
    """
    if len(texts) != len(labels):
        raise ConfigError(f"texts and labels must have the same length, got {len(texts)} and {len(labels)}")
    pairs = [(normalise_sentence(t), y) for t, y in zip(texts, labels) if t is not None and str(t).strip()]
    n = len(pairs)
    distinct = len({s for s, _ in pairs})
    info, verdict, reasons, by = None, "ok", [], []
    if n >= 2 and distinct <= n / 2:
        info = label_information([s for s, _ in pairs], [y for _, y in pairs])
        if info >= leak_info:
            verdict = "label_leak"
            reasons.append(f"the sentence gives the label away ({distinct} distinct sentences in {n} samples explain "
                           f"{info:.0%} of the label's entropy beyond chance)")
        elif distinct <= fixed_ratio * n:
            verdict = "fixed"
            reasons.append(f"the text is a fixed script ({distinct} distinct sentences in {n} samples, "
                           f"{max(info, 0.0):.0%} of the label's entropy beyond chance)")
        if verdict != "ok":
            by.append("data")
    if dataset in SCRIPTED_CORPORA:
        named, why = SCRIPTED_CORPORA[dataset]
        by.insert(0, "name")
        reasons.insert(0, why)
        verdict = verdict if verdict != "ok" else named
    if n == 0 and verdict == "ok":
        verdict = "none"
    return TextCheck(verdict, "; ".join(reasons) or None, tuple(by), n, distinct, info)
