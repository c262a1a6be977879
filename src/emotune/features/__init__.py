"""Feature extraction: audio loading and features, tokenizers, word2vec tables, frozen encoders and the on-disk feature cache.

Importing this package is cheap; torch, transformers, gensim and ``tokenizers``
load when first used.
"""

from emotune.features.audio import egemaps_functionals, egemaps_lld, load_audio, log_mel, mfcc
from emotune.features.audio_extractors import AUDIO_FEATURES, AudioExtractor, make_audio_extractor
from emotune.features.cache import FeatureCache, content_hash, default_cache_root, library_versions
from emotune.features.extraction import extract_features
from emotune.features.frames import (
    feature_stats,
    lengths_to_mask,
    max_frames,
    normalize_features,
    pad_frames,
    pool_frames,
    speaker_normalize,
)
from emotune.features.text_encoders import TEXT_ENCODERS, MiniLMEncoder, default_minilm_path, make_text_encoder
from emotune.features.mpnet import MPNetEncoder, mpnet_model_path
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
    "MPNetEncoder",
    "mpnet_model_path",
    "AUDIO_FEATURES",
    "AudioExtractor",
    "load_audio",
    "mfcc",
    "log_mel",
    "egemaps_functionals",
    "egemaps_lld",
    "make_audio_extractor",
    "extract_features",
    "lengths_to_mask",
    "max_frames",
    "pool_frames",
    "pad_frames",
    "feature_stats",
    "normalize_features",
    "speaker_normalize",
    "default_whisper_path",
    "whisper_encoder_states",
    "whisper_log_mel",
    "whisper_pooled",
]
