"""Numbers as customers write them: Arabic with thousands separators, ``1.5万``, and Chinese numerals."""

import re
from decimal import Decimal, InvalidOperation

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_MULTIPLIERS = {"万": 10000, "千": 1000, "百": 100}
_ARABIC = re.compile(r"(?P<number>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?)(?P<unit>[万千百]?)")

# one run of Chinese numeral characters, for building larger patterns
CN_NUMERAL = "[零〇一二两三四五六七八九十百千万]"


def chinese_number(text: str) -> int | None:
    """The value of a Chinese numeral below 100 million, or None if ``text`` is not one.

    Handles the positional form (``一百零五`` = 105, ``十二`` = 12, ``五十万`` = 500000), the spoken
    short form where the last unit is implied (``两千五`` = 2500, ``一万二`` = 12000) and digit-by-digit
    strings (``二〇二四`` = 2024).
    """
    if not text:
        return None
    if all(char in CN_DIGITS for char in text):
        return int("".join(str(CN_DIGITS[char]) for char in text))
    total = 0  # whole 万 groups
    section = 0  # the part below 万
    digit: int | None = None
    last_unit: int | None = None  # unit just seen, for the implied unit of 两千五
    after_zero = False  # 一百零五: the 5 after 零 is literal
    for char in text:
        if char in CN_DIGITS:
            if digit is not None:
                return None  # 三五 inside a positional numeral is not a number
            value = CN_DIGITS[char]
            if value == 0:
                after_zero, last_unit = True, None
            else:
                digit = value
        elif char in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[char]
            digit, last_unit, after_zero = None, _CN_UNITS[char], False
        elif char == "万":
            if digit is not None:
                section += digit
            if section == 0 or total:
                return None  # 万 with nothing before it, or twice
            total, section = section * 10000, 0
            digit, last_unit, after_zero = None, 10000, False
        else:
            return None
    if digit is not None:
        # 十五 is 15, but 两千五 is 2500: only a hundred or more implies the next unit down
        implied = last_unit is not None and last_unit >= 100 and not after_zero
        section += digit * (last_unit // 10 if implied else 1)
    return total + section


def parse_amount(text: str) -> Decimal | None:
    """A money amount: ``"1,299.50"``, ``"1.5万"``, ``"3千"``, ``"一百"``, ``"两千五"``; None if not one."""
    match = _ARABIC.fullmatch(text)
    if match:
        try:
            number = Decimal(match.group("number").replace(",", ""))
        except InvalidOperation:
            return None
        return number * _MULTIPLIERS.get(match.group("unit"), 1)
    value = chinese_number(text)
    return None if value is None else Decimal(value)


def format_decimal(number: Decimal) -> str:
    """Plain notation without trailing zeros: ``Decimal("25.90")`` -> ``"25.9"``, 1E+2 -> ``"100"``."""
    return format(number.normalize(), "f")
