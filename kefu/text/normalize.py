"""One normalisation for every text kefu sees, so training and prediction agree."""

import unicodedata


def normalize(text: str) -> str:
    """NFKC-fold and lower-case; full-width forms become ASCII, so 'ＡＢＣ１２３' == 'abc123'.

    >>> normalize("Ｈｅｌｌｏ，世界")
    'hello,世界'
    """
    return unicodedata.normalize("NFKC", text).lower().strip()
