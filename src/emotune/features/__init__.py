"""Feature extraction: tokenizers, word2vec tables, frozen encoders and the on-disk feature cache.

Importing this package is cheap; torch, transformers, gensim and ``tokenizers``
load when first used.
"""

from emotune.features.cache import FeatureCache, content_hash, default_cache_root, library_versions
from emotune.features.text_encoders import TEXT_ENCODERS, MiniLMEncoder, default_minilm_path, make_text_encoder
from emotune.features.tokenizers import (
    TOKENIZERS,
    BlankspaceTokenizer,
    Tokenizer,
    WordPieceTokenizer,
    make_tokenizer,
    tokenizer_from_json,
)
from emotune.features.word2vec import train_word2vec, word2vec_for_tokenizer

__all__ = [
    "FeatureCache",
    "content_hash",
    "default_cache_root",
    "library_versions",
    "TOKENIZERS",
    "Tokenizer",
    "BlankspaceTokenizer",
    "WordPieceTokenizer",
    "make_tokenizer",
    "tokenizer_from_json",
    "train_word2vec",
    "word2vec_for_tokenizer",
    "TEXT_ENCODERS",
    "MiniLMEncoder",
    "default_minilm_path",
    "make_text_encoder",
]
