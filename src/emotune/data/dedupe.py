"""Exact-duplicate texts, collapsed before any split so no text sits in both train and test.

Corpora scraped from the web repeat texts (retweets, copied reviews): the embedded
tweets corpus has 1,222 rows in duplicate groups, 47 of them with conflicting
labels. Left in, a split puts copies of one text on both sides and the test score
measures memory. :func:`deduplicate` keeps one sample per distinct text (compared
after collapsing runs of whitespace), with the group's majority label; a group whose
labels tie has no majority and is dropped (unless it holds a copy from an official test
part, which is kept with its own label).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from emotune.data.schema import Dataset

__all__ = ["DedupeReport", "deduplicate", "text_key"]

_SPACE = re.compile(r"\s+")


def text_key(text: str) -> str:
    """The text two samples must share to count as duplicates: stripped, whitespace runs as one space."""
    return _SPACE.sub(" ", text).strip()


@dataclass
class DedupeReport:
    """What :func:`deduplicate` did.

    Attributes:
        removed: samples dropped in all (copies plus samples of tied groups).
        groups: distinct texts that occurred more than once.
        conflicting: of those, groups whose copies carried different labels.
        relabelled: kept samples whose label was changed to the group's majority.
        ties_dropped: groups dropped because no label had a majority.
        examples: a few duplicated texts (truncated), for the report.
    """

    removed: int = 0
    groups: int = 0
    conflicting: int = 0
    relabelled: int = 0
    ties_dropped: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def deduplicate(dataset: Dataset) -> tuple[Dataset, DedupeReport]:
    """One sample per distinct text, with the majority label of its copies.

    The kept sample is the first copy in file order, except that a copy from an
    official test part (``extra["split"] == "test"``, e.g. SST-2) is preferred, so a
    corpus's official test set stays whole. Its ``extra["duplicates"]`` records how
    many copies it stands for.

    Returns:
        ``(dataset, report)``; ``dataset`` is the input itself when there is no duplicate.
    """
    by_text: dict[str, list[int]] = {}
    for i, s in enumerate(dataset.samples):
        by_text.setdefault(text_key(s.text or ""), []).append(i)
    report = DedupeReport()
    keep: list[int] = []
    relabel: dict[int, str] = {}
    for text, idx in by_text.items():
        if len(idx) == 1:
            keep.append(idx[0])
            continue
        report.groups += 1
        counts = Counter(dataset.samples[i].label for i in idx).most_common()
        if len(counts) > 1:
            report.conflicting += 1
        if len(report.examples) < 5:
            report.examples.append(text[:80])
        tests = [i for i in idx if dataset.samples[i].extra.get("split") == "test"]
        tie = len(counts) > 1 and counts[0][1] == counts[1][1]
        if tie and not tests:
            report.ties_dropped += 1
            report.removed += len(idx)
            continue
        chosen = tests[0] if tests else idx[0]
        majority = dataset.samples[chosen].label if tie else counts[0][0]  # a tied official test copy keeps its label
        if dataset.samples[chosen].label != majority:
            relabel[chosen] = majority
            report.relabelled += 1
        keep.append(chosen)
        report.removed += len(idx) - 1
    if report.groups == 0:
        return dataset, report
    keep.sort()
    sizes = {i: len(v) for v in by_text.values() for i in v}
    samples = []
    for i in keep:
        s = dataset.samples[i]
        if sizes[i] > 1:
            s = replace(s, label=relabel.get(i, s.label), extra={**s.extra, "duplicates": sizes[i]})
        samples.append(s)
    out = Dataset(name=dataset.name, samples=samples, skipped=list(dataset.skipped), source=dataset.source)
    out.source += f"; {report.removed} duplicate rows removed ({report.groups} texts, {report.conflicting} with conflicting labels)"
    return out, report
