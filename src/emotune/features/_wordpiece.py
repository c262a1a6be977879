"""A deterministic WordPiece vocabulary trainer (BPE merges with ``##`` continuation pieces).

It follows Hugging Face ``tokenizers``' ``WordPieceTrainer`` (which trains BPE
and converts the result): start from single characters, word-initial ``c`` and
continuing ``##c``, then repeatedly add the merge of the most frequent adjacent
pair. Ties are broken by the pair's strings, so the same corpus always gives
the same vocabulary in the same order. The Rust trainer breaks ties by ids
assigned in hash-map order and can return a different vocabulary on each run
(huggingface/tokenizers#1794), which would make a seeded experiment unrepeatable.

Pair counts are kept incrementally (as in subword-nmt): a merge only revisits
the words that contain the pair.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Mapping, Sequence

__all__ = ["train_wordpiece_vocab"]

PREFIX = "##"


def _pairs(symbols: Sequence[str]) -> list[tuple[str, str]]:
    return list(zip(symbols[:-1], symbols[1:]))


def _merge_symbols(symbols: list[str], a: str, b: str, new: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def train_wordpiece_vocab(
    word_counts: Mapping[str, int],
    *,
    max_vocab: int,
    special_tokens: Sequence[str],
    min_frequency: int = 2,
    limit_alphabet: int | None = None,
) -> list[str]:
    """Tokens of a WordPiece vocabulary, in id order (special tokens first).

    Args:
        word_counts: pre-tokenized (normalised, split) word -> occurrences.
        max_vocab: largest vocabulary, special tokens included.
        special_tokens: tokens given the first ids, in order.
        min_frequency: a pair seen fewer times is never merged.
        limit_alphabet: keep only this many most frequent characters (ties by
            character); words lose characters outside the alphabet, as in the
            Rust trainer.

    Returns:
        ``len <= max_vocab`` distinct token strings; pieces that continue a
        word start with ``##``.
    """
    # alphabet: most frequent characters, ties broken by the character itself
    char_counts: Counter[str] = Counter()
    for word, n in word_counts.items():
        for ch in word:
            char_counts[ch] += n
    ranked = sorted(char_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if limit_alphabet is not None:
        ranked = ranked[:limit_alphabet]
    alphabet = {ch for ch, _ in ranked}

    words: list[list[str]] = []
    freqs: list[int] = []
    for word in sorted(word_counts):
        chars = [ch for ch in word if ch in alphabet]
        if not chars:
            continue
        words.append([chars[0]] + [PREFIX + ch for ch in chars[1:]])
        freqs.append(int(word_counts[word]))

    vocab: list[str] = list(dict.fromkeys(special_tokens))
    seen = set(vocab)
    initial = sorted({s for w in words for s in w})
    for tok in sorted(t for t in initial if not t.startswith(PREFIX)) + sorted(t for t in initial if t.startswith(PREFIX)):
        if tok not in seen:
            vocab.append(tok)
            seen.add(tok)
    vocab = vocab[:max_vocab]
    seen = set(vocab)

    counts: defaultdict[tuple[str, str], int] = defaultdict(int)
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for idx, (w, n) in enumerate(zip(words, freqs)):
        for p in _pairs(w):
            counts[p] += n
            where[p].add(idx)
    heap = [(-c, a, b) for (a, b), c in counts.items()]
    heapq.heapify(heap)

    while len(vocab) < max_vocab and heap:
        neg, a, b = heapq.heappop(heap)
        if counts.get((a, b), 0) != -neg or -neg <= 0:
            continue  # stale entry; the current count is elsewhere in the heap
        if -neg < min_frequency:
            break
        new = a + b[len(PREFIX):] if b.startswith(PREFIX) else a + b
        if new not in seen:
            vocab.append(new)
            seen.add(new)
        touched: set[tuple[str, str]] = set()
        for idx in sorted(where.pop((a, b), ())):
            old = words[idx]
            merged = _merge_symbols(old, a, b, new)
            n = freqs[idx]
            for p in _pairs(old):
                counts[p] -= n
                touched.add(p)
            for p in _pairs(merged):
                counts[p] += n
                where[p].add(idx)
                touched.add(p)
            for p in set(_pairs(old)) - set(_pairs(merged)):
                where[p].discard(idx)
            words[idx] = merged
        for p in sorted(touched):
            c = counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p[0], p[1]))
            else:
                counts.pop(p, None)
    return vocab
