"""The common emotion vocabulary and each speech corpus's map from its own codes to it.

Every speech reader labels samples with a word of :data:`EMOTION_VOCABULARY`; the
corpus's own code (``"06"``, ``"ANG"``, ``"ps"``, ``"exc"``) stays in
``Sample.extra["emotion_code"]``. A code a map does not know is a bad row naming
the file, never a guess.

========  ================  =======  ===========  ======  =================
label     RAVDESS           CREMA-D  TESS         SAVEE   IEMOCAP (4-class)
========  ================  =======  ===========  ======  =================
angry     ``05`` angry      ``ANG``  ``angry``    ``a``   ``ang``
disgust   ``07`` disgust    ``DIS``  ``disgust``  ``d``   (``dis`` dropped)
fear      ``06`` fearful    ``FEA``  ``fear``     ``f``   (``fea`` dropped)
happy     ``03`` happy      ``HAP``  ``happy``    ``h``   ``hap`` + ``exc``
neutral   ``01`` neutral    ``NEU``  ``neutral``  ``n``   ``neu``
sad       ``04`` sad        ``SAD``  ``sad``      ``sa``  ``sad``
surprise  ``08`` surprised  --       ``ps``       ``su``  (``sur`` dropped)
calm      ``02`` calm       --       --           --      --
========  ================  =======  ===========  ======  =================

IEMOCAP is read in the usual four-class setup (neutral, happy with excited merged
in, sad, angry); its other labels (:data:`IEMOCAP_DROPPED`: ``fru``, ``sur``,
``fea``, ``dis``, ``oth``, ``xxx``) are dropped and listed in ``Dataset.skipped``.

The generic ``audio-folder`` and ``audio-csv`` readers pass their class names
through :func:`normalize_emotion`, which maps common spellings (``"Anger"``,
``"fearful"``, ``"pleasant_surprise"``) onto the vocabulary and leaves any other
name as it is, so non-emotion classes (``"positive"``) still work.
"""

from __future__ import annotations

__all__ = [
    "EMOTION_VOCABULARY",
    "RAVDESS_EMOTIONS",
    "RAVDESS_EMOTION_NAMES",
    "CREMA_D_EMOTIONS",
    "TESS_EMOTIONS",
    "SAVEE_EMOTIONS",
    "IEMOCAP_EMOTIONS",
    "IEMOCAP_DROPPED",
    "CORPUS_EMOTIONS",
    "EMOTION_ALIASES",
    "normalize_emotion",
]

#: The labels every speech reader uses.
EMOTION_VOCABULARY = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "calm")

#: RAVDESS file name field 3 -> label.
RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}

#: RAVDESS file name field 3 -> the corpus's own word for it (kept in ``extra["emotion"]``).
RAVDESS_EMOTION_NAMES = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}

#: CREMA-D file name field 3 -> label.
CREMA_D_EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}

#: TESS file name suffix -> label (``ps`` is "pleasant surprise").
TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprise",
    "sad": "sad",
}

#: SAVEE file name letters -> label.
SAVEE_EMOTIONS = {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprise"}

#: IEMOCAP EmoEvaluation code -> label, four-class setup (excited merged into happy).
IEMOCAP_EMOTIONS = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry"}

#: IEMOCAP codes outside the four-class setup -> what they mean; these utterances are dropped.
IEMOCAP_DROPPED = {
    "fru": "frustrated",
    "sur": "surprised",
    "fea": "fearful",
    "dis": "disgusted",
    "oth": "other",
    "xxx": "no majority",
}

#: reader name -> its code map.
CORPUS_EMOTIONS = {
    "ravdess": RAVDESS_EMOTIONS,
    "crema-d": CREMA_D_EMOTIONS,
    "tess": TESS_EMOTIONS,
    "savee": SAVEE_EMOTIONS,
    "iemocap": IEMOCAP_EMOTIONS,
}

#: Other spellings of the vocabulary's words (lower case, ``_`` for spaces and dashes).
EMOTION_ALIASES = {
    "anger": "angry",
    "ang": "angry",
    "disgusted": "disgust",
    "dis": "disgust",
    "fearful": "fear",
    "fea": "fear",
    "afraid": "fear",
    "happiness": "happy",
    "hap": "happy",
    "joy": "happy",
    "neu": "neutral",
    "sadness": "sad",
    "surprised": "surprise",
    "sur": "surprise",
    "ps": "surprise",
    "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
}


def normalize_emotion(name: str) -> str:
    """``name`` as a word of :data:`EMOTION_VOCABULARY` when it is one or a known alias.

    Matching ignores case, surrounding blanks, and treats spaces and dashes as
    ``_``; any other name comes back stripped but otherwise unchanged
    (``"Fearful"`` -> ``"fear"``, ``"positive"`` -> ``"positive"``).
    """
    stripped = name.strip()
    key = stripped.lower().replace(" ", "_").replace("-", "_")
    if key in EMOTION_VOCABULARY:
        return key
    return EMOTION_ALIASES.get(key, stripped)
