"""Motion capture as in IEMOCAP: time-stamped marker / head / hand streams cut per utterance into 200 averaged segments.

IEMOCAP's ``MOCAP_rotated`` (face markers), ``MOCAP_head`` (head rotation and
translation) and ``MOCAP_hand`` (hand markers) are whitespace-separated text
files, one per dialogue, with a header line naming the columns, the first two
being the frame number and the time in seconds::

    Frame# Time CH1_X CH1_Y CH1_Z ...
    1 0.0083 12.3 -4.5 101.2 ...

(A second header line of units, as some exports have, is skipped; missing
markers may be written ``NaN`` and are filled with the column's mean over the
utterance, or 0 when the column is missing throughout.)

For one utterance from ``start`` to ``end`` seconds (its times in the
dialogue's ``EmoEvaluation`` file), :func:`utterance_mocap` cuts every stream to
``start <= t < end``, splits that span into ``n_segments = 200`` equal time
segments and averages the frames of each (:func:`segment_average`; a segment
with no frame takes the nearest non-empty segment's values), then concatenates
the streams on the feature axis: float32 ``(200, sum F)``, the input of
``mocap_cnn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from emotune.exceptions import DatasetError

__all__ = ["MocapStream", "read_mocap_stream", "segment_average", "utterance_mocap", "N_SEGMENTS"]

N_SEGMENTS = 200
"""Segments per utterance (the IEMOCAP paper's choice)."""


@dataclass(frozen=True)
class MocapStream:
    """One stream: ``times`` float64 ``(N,)`` seconds, ``values`` float32 ``(N, F)``, ``columns`` the ``F`` names."""

    path: str
    times: np.ndarray
    values: np.ndarray
    columns: list[str]


def _number(text: str) -> float:
    return float("nan") if text.lower() in ("nan", "na", "") else float(text)


def read_mocap_stream(path: str | Path) -> MocapStream:
    """Read one motion-capture text file (see the module docstring); errors name the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the motion-capture file: {exc}") from exc
    header: list[str] | None = None
    rows: list[list[float]] = []
    for n, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if header is None:
            if len(parts) < 3 or not parts[0].lower().startswith("frame") or parts[1].lower() != "time":
                raise DatasetError(f"{path}, line {n}: expected a header 'Frame# Time <columns...>', got {line[:60]!r}")
            header = parts
            continue
        try:
            values = [_number(p) for p in parts]
        except ValueError:
            if not rows:  # a units line under the header
                continue
            raise DatasetError(f"{path}, line {n}: not a row of numbers: {line[:60]!r}") from None
        if len(values) != len(header):
            raise DatasetError(f"{path}, line {n}: {len(values)} values, the header has {len(header)} columns")
        rows.append(values)
    if header is None or not rows:
        raise DatasetError(f"{path}: no motion-capture rows (expected a 'Frame# Time ...' header and numeric rows)")
    data = np.asarray(rows, np.float64)
    times = data[:, 1]
    if np.isnan(times).any() or np.any(np.diff(times) < 0):
        raise DatasetError(f"{path}: the Time column must be present on every row and never decrease")
    return MocapStream(str(path), times, data[:, 2:].astype(np.float32), header[2:])


def segment_average(times: np.ndarray, values: np.ndarray, start: float, end: float,
                    n_segments: int = N_SEGMENTS) -> np.ndarray:
    """Frames of ``[start, end)`` averaged in ``n_segments`` equal time segments: float32 ``(n_segments, F)``.

    Args:
        times: float ``(N,)`` seconds, non-decreasing.
        values: float ``(N, F)``; ``NaN`` entries are filled with the column's
            mean inside the span (0 when the column is all ``NaN``).
        start, end: the utterance's span in seconds, ``end > start``.

    Segment ``j`` covers ``[start + j*d, start + (j+1)*d)`` with ``d = (end - start) / n_segments``;
    an empty segment (frames sparser than segments) takes the nearest non-empty one's mean.

    Raises:
        DatasetError: ``end <= start`` or no frame inside the span.
    """
    times = np.asarray(times, np.float64)
    values = np.asarray(values, np.float64)
    if not end > start:
        raise DatasetError(f"utterance span must have end > start, got start={start}, end={end}")
    inside = (times >= start) & (times < end)
    if not inside.any():
        raise DatasetError(f"no motion-capture frame between {start} s and {end} s "
                           f"(the stream covers {times[0]:.3f}-{times[-1]:.3f} s)")
    t, v = times[inside], values[inside].copy()
    col_mean = np.nanmean(np.where(np.isnan(v).all(axis=0), 0.0, v), axis=0) if v.size else np.zeros(v.shape[1])
    v = np.where(np.isnan(v), col_mean, v)
    seg = np.minimum(((t - start) / (end - start) * n_segments).astype(np.int64), n_segments - 1)
    sums = np.zeros((n_segments, v.shape[1]))
    np.add.at(sums, seg, v)
    counts = np.bincount(seg, minlength=n_segments)
    full = np.flatnonzero(counts)
    out = sums[full] / counts[full, None]
    nearest = full[np.abs(np.arange(n_segments)[:, None] - full[None, :]).argmin(axis=1)]
    return (out[np.searchsorted(full, nearest)]).astype(np.float32)


def utterance_mocap(streams: Sequence[MocapStream], start: float, end: float,
                    n_segments: int = N_SEGMENTS) -> np.ndarray:
    """Every stream cut to ``[start, end)``, averaged into ``n_segments`` segments, concatenated: float32 ``(n_segments, sum F)``."""
    if not streams:
        raise DatasetError("utterance_mocap needs at least one stream")
    parts = []
    for s in streams:
        try:
            parts.append(segment_average(s.times, s.values, start, end, n_segments))
        except DatasetError as exc:
            raise DatasetError(f"{s.path}: {exc}") from None
    return np.concatenate(parts, axis=1)
