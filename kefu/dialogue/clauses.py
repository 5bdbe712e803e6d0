"""Split a customer message into its clauses, so that two questions in one message both get an answer.

    >>> split_clauses("where is my order A12345 and can i still change the address")
    ['where is my order A12345', 'can i still change the address']
    >>> split_clauses("邮费多少 寄到成都要几天")
    ['邮费多少', '寄到成都要几天']

Boundaries: sentence punctuation (。？?！!；;), a space between two Chinese characters (how many
customers type a comma), Chinese links such as 还有 / 另外 / 顺便, and English "and" / "also" / a comma
before a new question ("... and can i ...", ", how long ..."). A message with one clause gives a list
of one; the policy answers the clauses separately only when two of them are understood on their own.
"""

import re

_CJK = "\u3400-\u9fff\uf900-\ufaff"
_QUESTION_WORDS = (
    "can|could|do|does|did|is|are|was|will|would|should|how|what|whats|when|where|which|who|why|"
    "i|im|i'm|my|pls|please"
)
_BOUNDARY = re.compile(
    rf"[。？?！!；;\n]+|(?<=[a-z0-9])\.\s+"  # sentence ends
    rf"|(?<=[{_CJK}])[\s,，、]+(?=[{_CJK}])"  # a space or comma between Chinese clauses
    rf"|[,，]?\s*(?:还有|另外|顺便问一下|顺便问下|顺便|以及)"  # Chinese links
    rf"|(?:,\s*|\s+)(?:and|also|plus)\s+(?=(?:{_QUESTION_WORDS})\b)"  # "... and can i ..."
    rf"|,\s*(?=(?:{_QUESTION_WORDS})\b)",  # "..., how long ..."
    re.IGNORECASE,
)
MIN_CLAUSE_CHARS = 2  # "亲" or "ok" alone is no question


def split_clauses(text: str) -> list[str]:
    """The message's clauses in order, stripped; clauses shorter than MIN_CLAUSE_CHARS are dropped."""
    parts = [part.strip(" ,，、~～") for part in _BOUNDARY.split(text)]
    return [part for part in parts if len(part) >= MIN_CLAUSE_CHARS] or [text.strip()]


_ELLIPSIS = re.compile(
    r"^\s*(?:那|那么|那要是|那如果|如果是|要是)\S"  # 那寄新疆呢, 要是寄到西藏
    r"|^\s*(?:and\s+)?(?:what|how)\s+about\b"  # what about to tibet?
    r"|^\s*(?:and|same)\s+(?:for|to|in)\b",  # and to hong kong?
    re.IGNORECASE,
)


def is_ellipsis(text: str) -> bool:
    """Whether the message asks the previous question again about something else ("那寄新疆呢",
    "what about to tibet?"), leaving the question itself out.

    >>> is_ellipsis("那寄新疆呢"), is_ellipsis("what about tibet?"), is_ellipsis("where is my order")
    (True, True, False)
    """
    return bool(_ELLIPSIS.search(text))
