"""One normalisation for every text kefu sees, so training and prediction agree."""

import unicodedata

from kefu.text.script import simplified


def normalize(text: str) -> str:
    """NFKC-fold, lower-case and simplify Chinese; full-width forms become ASCII, so 'ＡＢＣ１２３' == 'abc123'.

    >>> normalize("Ｈｅｌｌｏ，世界")
    'hello,世界'
    >>> normalize("運費")
    '运费'
    """
    return simplified(unicodedata.normalize("NFKC", text).lower().strip())



def normalize_with_origins(text: str) -> tuple[str, list[int]]:
    """`normalize(text)` and, for each of its characters, the index in `text` of the character it came from.

    Each character is folded together with the combining marks that follow it (so "e" + a combining accent
    becomes one "é" from the "e"); in the rare text where that still changes the length of the result
    (conjoining Hangul jamo), the origins are estimated by relative position.

    >>> normalize_with_origins(" Ａb ")
    ('ab', [1, 2])
    """
    folded = normalize(text)
    clusters: list[tuple[int, str]] = []  # (index in text, a character and its combining marks)
    for i, c in enumerate(text):
        if clusters and unicodedata.combining(c):
            clusters[-1] = (clusters[-1][0], clusters[-1][1] + c)
        else:
            clusters.append((i, c))
    pieces = [(start, unicodedata.normalize("NFKC", cluster).lower()) for start, cluster in clusters]
    origins = [start for start, piece in pieces for _ in piece]
    joined = "".join(piece for _, piece in pieces)
    lead = len(joined) - len(joined.lstrip())
    if len(joined.strip()) != len(folded):
        return folded, [i * len(text) // len(folded) for i in range(len(folded))]
    return folded, origins[lead : lead + len(folded)]
