"""Tell whether a customer wrote in Chinese or English, so the reply can follow them.

Chinese customers mix English words ("我的order A123") and both sides type order numbers, emails and
emoji, so the rule counts evidence rather than looking at the first character:

* every CJK ideograph is one piece of Chinese evidence;
* every run of Latin letters is one piece of English evidence (a word, not a letter: one Chinese
  character carries about as much meaning as one English word);
* runs that mix letters and digits ("A12345", "iPhone15") are codes, not words, and count for nothing,
  and so do digits, punctuation, emoji and other scripts.

The text is Chinese when ideographs make up at least :data:`ZH_SHARE` of the evidence. With no
evidence at all (digits or punctuation only), or with a single Latin word and no Chinese ("ok", a
product name) in a conversation that already has a language, the previous language is kept.
"""

import re
import unicodedata

# the CJK Unified Ideographs, extension A, compatibility ideographs and the supplementary planes (B-F)
_IDEOGRAPH = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
ZH_SHARE = 0.3


def detect_language(text: str, default: str = "en", previous: str | None = None) -> str:
    """Return "zh" or "en" for ``text``; ``previous`` (else ``default``) when the text does not say."""
    # NFKC folds full-width letters and digits (common from Chinese input methods) onto ASCII
    text = unicodedata.normalize("NFKC", text)
    chinese = len(_IDEOGRAPH.findall(text))
    english = sum(1 for run in _ALNUM_RUN.findall(text) if run.isalpha())
    if chinese == 0 and (english == 0 or (english == 1 and previous)):
        return previous or default
    return "zh" if chinese / (chinese + english) >= ZH_SHARE else "en"
