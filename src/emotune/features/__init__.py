"""Feature extraction: audio loading and features, tokenizers, word2vec tables, frozen encoders and the on-disk feature cache.

Importing this package is cheap; torch, transformers, gensim and ``tokenizers``
load when first used.
"""

from emotune.features.audio import (
    AUDIO_FEATURES,
    AudioExtractor,
    egemaps_functionals,
    egemaps_lld,
    extract_features,
    load_audio,
    log_mel,
    make_audio_extractor,
    mfcc,
)
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
from emotune.features.whisper import default_whisper_path, whisper_encoder_states, whisper_log_mel, whisper_pooled
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
    "AUDIO_FEATURES",
    "AudioExtractor",
    "load_audio",
    "mfcc",
    "log_mel",
    "egemaps_functionals",
    "egemaps_lld",
    "make_audio_extractor",
    "extract_features",
    "default_whisper_path",
    "whisper_encoder_states",
    "whisper_log_mel",
    "whisper_pooled",
]
