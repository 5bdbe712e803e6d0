"""A WordPiece tokenizer built from the bot's own data, run by Hugging Face `tokenizers`.

CJK characters are split off one by one before WordPiece sees them: Chinese has no spaces, and on a few
thousand sentences single characters generalise far better than learnt multi-character pieces. Latin text
gets subwords, so unseen inflections ("refunded") still share pieces with seen ones ("refund").
"""

import string
from collections import Counter
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from kefu.text.script import simplified

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]

# Han (incl. extension A and compatibility ideographs), kana, Hangul syllables, CJK punctuation.
_CJK = Regex(
    r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)


def _new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token=UNK, max_input_chars_per_word=50))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(_CJK, behavior="isolated"),
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(individual_digits=False),
        ]
    )
    tok.decoder = decoders.WordPiece()
    return tok


def train_tokenizer(texts: list[str], vocab_size: int = 8000, min_frequency: int = 2) -> Tokenizer:
    """Learn a vocabulary from `texts`; returns a tokenizer that adds [CLS] ... [SEP].

    The vocabulary is every character seen (also as a word-continuation piece "##c") plus the most frequent
    whole words. WordPiece's greedy longest match then splits an unseen word into the longest known word
    and characters ("refunded" -> "refund ##e ##d"). We build it ourselves rather than with
    `WordPieceTrainer` because that trainer breaks ties in hash-map order, so the same data gave a
    different vocabulary on every run, and a seed could not reproduce a model.
    """
    tok = _new_tokenizer()
    words: Counter[str] = Counter()
    chars: set[str] = set(string.ascii_lowercase + string.digits + string.punctuation)
    for text in texts:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(simplified(text))):
            words[word] += 1
            chars.update(word)
    pieces = sorted(chars) + sorted("##" + c for c in chars)
    budget = max(0, vocab_size - len(SPECIAL_TOKENS) - len(pieces))
    # Most frequent first, ties alphabetical: the same data always gives the same vocabulary.
    frequent = sorted((w for w, n in words.items() if n >= min_frequency and len(w) > 1), key=lambda w: (-words[w], w))
    vocab_list = SPECIAL_TOKENS + pieces + sorted(frequent[:budget])
    tok.model = models.WordPiece(
        vocab={t: i for i, t in enumerate(vocab_list)}, unk_token=UNK, max_input_chars_per_word=50
    )
    cls_id, sep_id = tok.token_to_id(CLS), tok.token_to_id(SEP)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", special_tokens=[(CLS, cls_id), (SEP, sep_id)]
    )
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a `tokenizer.json` written by `Tokenizer.save`."""
    return Tokenizer.from_file(str(path))
