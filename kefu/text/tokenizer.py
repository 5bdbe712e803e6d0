"""A WordPiece tokenizer trained on the bot's own data with Hugging Face `tokenizers`.

CJK characters are split off one by one before WordPiece sees them: Chinese has no spaces, and on a few
thousand sentences single characters generalise far better than learnt multi-character pieces. Latin text
gets subwords, so unseen inflections ("refunded") still share pieces with seen ones ("refund").
"""

import string
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

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


def train_tokenizer(texts: list[str], vocab_size: int = 8000, min_frequency: int = 1) -> Tokenizer:
    """Learn a vocabulary from `texts`; returns a tokenizer that adds [CLS] ... [SEP]."""
    tok = _new_tokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        # Every ASCII letter, digit and punctuation mark stays known even if the data never used it.
        initial_alphabet=list(string.ascii_lowercase + string.digits + string.punctuation),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id(CLS), tok.token_to_id(SEP)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{CLS} $A {SEP}", special_tokens=[(CLS, cls_id), (SEP, sep_id)]
    )
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a `tokenizer.json` written by `Tokenizer.save`."""
    return Tokenizer.from_file(str(path))
