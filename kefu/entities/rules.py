"""Entity extractors that need no training: email, phone, date, time, money and configured regexes.

Each extractor returns :class:`Entity` objects with ``source="rule:<name>"``. :class:`RuleExtractor`
runs several and resolves overlaps: **the longest span wins; on a tie a configured regex beats the
built-ins**, and the built-ins rank email > money > date > time > phone. So a configured order-id regex
that matches exactly what the phone rule matched keeps the span, and an email swallows the digits in
``13812345678@163.com``.

Near misses are rejected on purpose: a phone number must not be glued to letters, digits or ``@``
(``A13812345678``, ``123456789012``, the local part of an email), and money needs a currency
(``5 items`` is not money).
"""

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import phonenumbers

from kefu.entities.numbers import CN_NUMERAL, chinese_number, format_decimal, parse_amount
from kefu.entities.spans import Entity
from kefu.errors import ConfigError

# Python's \b treats CJK characters as word characters, so "订单A12345" has no \b before the "A";
# these ASCII-only lookarounds are the boundaries that work in Chinese text too
_L = r"(?<![A-Za-z0-9])"
_R = r"(?![A-Za-z0-9])"
_CN_SMALL = "[零〇一二两三四五六七八九十]"  # numerals for hours, minutes, days and months


class Rule(Protocol):
    """What :class:`RuleExtractor` runs: a name, a tie-break priority (lower wins) and ``extract``."""

    name: str

    @property
    def priority(self) -> int: ...

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]: ...


def _today(now: datetime | date | None) -> date:
    if now is None:
        return date.today()
    return now.date() if isinstance(now, datetime) else now


# ---------------------------------------------------------------------------------------------------
# email

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)


def extract_emails(text: str) -> list[Entity]:
    """Email addresses; the value has its domain lower-cased (the local part is case-sensitive)."""
    entities = []
    for match in _EMAIL.finditer(text):
        local, _, domain = match.group().rpartition("@")
        entities.append(Entity("email", f"{local}@{domain.lower()}", match.start(), match.end(), "rule:email"))
    return entities


# ---------------------------------------------------------------------------------------------------
# phone

# mainland China mobile numbers, also 138-1234-5678 / 138 1234 5678 and with +86 / 0086 in front
_CN_MOBILE = re.compile(
    r"(?<![A-Za-z0-9_@+])(?<![0-9]\.)(?:(?:\+|00)86[ -]?)?(?P<number>1[3-9][0-9](?:[ -]?[0-9]{4}){2})"
    r"(?![A-Za-z0-9_@])"
)
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9_@]")


def _glued(text: str, start: int, end: int) -> bool:
    """Whether a candidate is part of a longer token: ASCII letters, digits, ``_``, ``@`` around it."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if _ASCII_ALNUM.match(before) or _ASCII_ALNUM.match(after):
        return True
    # 12.13812345678 and 138-1234-5678-9 are longer numbers; "Tel.13812345678" is fine
    if before in (".", "-") and start > 1 and text[start - 2].isdigit():
        return True
    return after in (".", "-") and end + 1 < len(text) and text[end + 1].isdigit()


def _plausibility(raw: str, region: str, number: phonenumbers.PhoneNumber) -> int:
    """How much a region's reading of a match can be trusted, to choose between CN and US readings.

    ``415-555-2671`` is valid in both (Dandong has area code 415), but a Chinese landline is written
    with its trunk 0; without one the CN reading is the weak one.
    """
    digits = re.sub(r"\D", "", raw)
    if raw.lstrip().startswith("+") or digits.startswith("00"):
        return 3
    if region == "CN" and digits[:1] in "23456789":
        return 0
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
        return 2
    return 1


def extract_phones(text: str, regions: Iterable[str] = ("CN", "US")) -> list[Entity]:
    """Phone numbers found by ``phonenumbers`` for each region (``+xx`` numbers in any), plus mainland
    mobile numbers; the value is E.164 (``+8613812345678``). Overlapping finds are all returned."""
    best: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}
    for order, region in enumerate(regions):
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            if _glued(text, match.start, match.end):
                continue
            value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            rank = (_plausibility(match.raw_string, region, match.number), -order)
            span = (match.start, match.end)
            if span not in best or rank > best[span][0]:
                best[span] = (rank, value)
    for match in _CN_MOBILE.finditer(text):
        span = (match.start(), match.end())
        if span not in best:  # a safety net for numbers the metadata does not know yet
            best[span] = ((2, 0), "+86" + re.sub(r"\D", "", match.group("number")))
    return [Entity("phone", value, start, end, "rule:phone") for (start, end), (_, value) in sorted(best.items())]


# ---------------------------------------------------------------------------------------------------
# dates

_CN_RELATIVE_DAYS = {"大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1, "明日": 1,
                     "后天": 2, "大后天": 3}
_EN_RELATIVE_DAYS = {"the day before yesterday": -2, "day before yesterday": -2, "yesterday": -1, "today": 0,
                     "tomorrow": 1, "the day after tomorrow": 2, "day after tomorrow": 2}
_CN_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_WEEKDAYS = {name.lower(): index for index, name in enumerate(calendar.day_name)}
_MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
# week relative to the current Monday-to-Sunday week; None: the next such day from today on
_WEEK_OFFSETS = {"这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "上": -1, "上个": -1,
                 "this": 0, "next": 1, "last": -1, "coming": None, None: None}


def _alternatives(words: Iterable[str]) -> str:
    # longest first, so 大后天 is tried before 后天 and "the day after tomorrow" before "tomorrow"
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_MONTH = rf"(?P<month>{_alternatives(_MONTHS)})\.?"
_DAY_NUMBER = r"(?P<day>[0-9]{1,2})(?:st|nd|rd|th)?(?![0-9])"
_YEAR = r"(?:,?\s+(?P<year>[0-9]{4})(?![0-9]))?"

_DATE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("cn_relative", re.compile(f"(?P<word>{_alternatives(_CN_RELATIVE_DAYS)})")),
    ("en_relative", re.compile(rf"{_L}(?P<word>{_alternatives(_EN_RELATIVE_DAYS)}){_R}", re.IGNORECASE)),
    # not after a numeral: 一周三次 is "three times a week", not Wednesday
    ("cn_weekday", re.compile(r"(?<![0-9零一二两三四五六七八九十几每])(?P<rel>这个|下个|上个|这|本|下|上)?"
                              r"(?:周|星期|礼拜)(?P<weekday>[一二三四五六日天])")),
    ("en_weekday", re.compile(rf"{_L}(?:(?P<rel>next|last|this|coming)\s+)?"
                              rf"(?P<weekday>{_alternatives(_EN_WEEKDAYS)}){_R}", re.IGNORECASE)),
    ("cn_ymd", re.compile(rf"(?:(?P<year>[0-9]{{4}}|[零〇一二三四五六七八九]{{4}})\s*年\s*)?"
                          rf"(?P<month>[0-9]{{1,2}}|{_CN_SMALL}{{1,3}})\s*月\s*"
                          rf"(?P<day>[0-9]{{1,2}}|{_CN_SMALL}{{1,3}})\s*[日号]")),
    ("cn_ym", re.compile(rf"(?P<year>[0-9]{{4}}|[零〇一二三四五六七八九]{{4}})\s*年\s*"
                         rf"(?P<month>[0-9]{{1,2}}|{_CN_SMALL}{{1,3}})\s*月")),
    ("numeric", re.compile(r"(?<![0-9.])(?P<year>[0-9]{4})(?P<sep>[-/.])(?P<month>[0-9]{1,2})(?P=sep)"
                           r"(?P<day>[0-9]{1,2})(?![0-9]|\.[0-9])")),
    ("en_month_day", re.compile(rf"{_L}{_MONTH}\s+{_DAY_NUMBER}{_YEAR}{_R}", re.IGNORECASE)),
    ("en_day_month", re.compile(rf"{_L}{_DAY_NUMBER}\s+(?:of\s+)?{_MONTH}{_YEAR}{_R}", re.IGNORECASE)),
]


def _small_number(text: str) -> int | None:
    return int(text) if text.isdigit() else chinese_number(text)


def _resolve_date(kind: str, match: re.Match, today: date) -> str | None:
    """The ISO value of one date match, or None when it names no real date (February 30)."""
    groups = match.groupdict()
    if kind in ("cn_relative", "en_relative"):
        table = _CN_RELATIVE_DAYS if kind == "cn_relative" else _EN_RELATIVE_DAYS
        offset = table[" ".join(groups["word"].lower().split())]
        return (today + timedelta(days=offset)).isoformat()
    if kind in ("cn_weekday", "en_weekday"):
        weekday = _CN_WEEKDAYS.get(groups["weekday"], _EN_WEEKDAYS.get(groups["weekday"].lower()))
        week = _WEEK_OFFSETS[groups["rel"].lower() if groups["rel"] else None]
        if week is None:  # bare 周三 / Wednesday: the next one, today included
            return (today + timedelta(days=(weekday - today.weekday()) % 7)).isoformat()
        monday = today - timedelta(days=today.weekday())
        return (monday + timedelta(weeks=week, days=weekday)).isoformat()
    month_text = groups["month"]
    month = _MONTHS.get(month_text.lower().rstrip("."), None) or _small_number(month_text)
    year = _small_number(groups["year"]) if groups.get("year") else today.year
    if month is None or year is None:
        return None
    if kind == "cn_ym":
        return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None
    day = _small_number(groups["day"])
    try:
        return date(year, month, day).isoformat() if day is not None else None
    except ValueError:
        return None


def extract_dates(text: str, now: datetime | date | None = None) -> list[Entity]:
    """Dates in Chinese and English, valued as ISO dates (``YYYY-MM-DD``; ``YYYY-MM`` for 2024年3月)
    resolved against ``now`` (default: today). Overlapping finds are all returned.

    Weekdays: a bare ``周三``/``Wednesday`` is the next Wednesday from today on; ``这周三``/``this
    Wednesday`` is the one in the current Monday-Sunday week, ``下周三``/``next Wednesday`` the one in
    the week after, ``上周三``/``last Wednesday`` the week before. A date without a year is in ``now``'s year.
    """
    today = _today(now)
    entities = []
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            value = _resolve_date(kind, match, today)
            if value is not None:
                entities.append(Entity("date", value, match.start(), match.end(), "rule:date"))
    return entities


# ---------------------------------------------------------------------------------------------------
# times

_AM, _NOON, _PM, _NIGHT = "am", "noon", "pm", "night"
_CN_PERIODS = {"凌晨": _AM, "清晨": _AM, "早上": _AM, "早晨": _AM, "上午": _AM, "早": _AM, "中午": _NOON,
               "下午": _PM, "午后": _PM, "傍晚": _PM, "晚上": _PM, "今晚": _PM, "明晚": _PM, "晚": _PM,
               "夜里": _NIGHT, "夜间": _NIGHT, "半夜": _NIGHT}
_EN_HOURS = {word: hour for hour, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}
_PERIOD = rf"(?:(?P<period>{_alternatives(_CN_PERIODS)})\s*)?"
_TIME_PATTERNS: list[tuple[str, re.Pattern]] = [
    # 下午三点, 三点半, 3点15分, 十点一刻, 八点钟
    ("cn", re.compile(
        rf"{_PERIOD}(?<![0-9零〇一二两三四五六七八九十百千万])(?P<hour>[0-9]{{1,2}}|{_CN_SMALL}{{1,3}})\s*[点點时]"
        rf"(?:(?P<half>半)|(?P<quarter>[一三]刻)|\s*(?P<minute>[0-9]{{1,2}}|{_CN_SMALL}{{1,3}})\s*(?P<fen>分)?)?"
        rf"(?![0-9])(?P<clock>钟)?")),
    # 15:30, 3:30, 下午3:30 (the am/pm form below wins for "3:30 pm": it is longer)
    ("colon", re.compile(rf"{_PERIOD}(?<![0-9:.])(?P<hour>[01]?[0-9]|2[0-3]):(?P<minute>[0-5][0-9])"
                         r"(?::[0-5][0-9])?(?![0-9]|:[0-9])")),
    ("ampm", re.compile(rf"{_L}(?P<hour>[0-9]{{1,2}}|{_alternatives(_EN_HOURS)})(?::(?P<minute>[0-5][0-9]))?"
                        r"\s*(?P<ampm>[ap]\.m\.|[ap]m(?![A-Za-z0-9]))", re.IGNORECASE)),
    ("oclock", re.compile(rf"{_L}(?P<hour>[0-9]{{1,2}}|{_alternatives(_EN_HOURS)})\s*o'?\s*clock{_R}",
                          re.IGNORECASE)),
    ("named", re.compile(rf"{_L}(?P<word>noon|midday|midnight){_R}", re.IGNORECASE)),
]


def _clock_minutes(text: str) -> bool:
    """Whether minutes written without 分 read as minutes: two digits, 零五, or a numeral with 十."""
    return (len(text) == 2 and text.isdigit()) or text[0] in "零〇" or "十" in text


def _resolve_time(kind: str, match: re.Match) -> str | None:
    """``HH:MM`` where the hour is unambiguous, the matched text where it is not (三点半, 3:30),
    None when the match is no time of day (25点, 一点 "a little")."""
    groups = match.groupdict()
    if kind == "named":
        return "00:00" if groups["word"].lower() == "midnight" else "12:00"
    hour_text = groups["hour"].lower()
    hour = _EN_HOURS[hour_text] if hour_text in _EN_HOURS else _small_number(hour_text)
    minute = 0
    if groups.get("half"):
        minute = 30
    elif groups.get("quarter"):
        minute = 15 if groups["quarter"][0] == "一" else 45
    elif groups.get("minute"):
        minute = _small_number(groups["minute"])
    if hour is None or minute is None or not 0 <= hour <= 24 or not 0 <= minute <= 59:
        return None
    if kind == "cn" and groups["minute"] and not groups["fen"] and not _clock_minutes(groups["minute"]):
        return None  # 三点五 and 3点5 are 3.5, not 3:05 (that is 三点零五, 3点05)
    period = _CN_PERIODS.get(groups.get("period") or "")
    # a Chinese numeral + 点 is mostly not a time (便宜一点 "a bit cheaper", 两点建议 "two points", 早一点
    # "a bit earlier"); it is one after 上午/下午/..., or with 半/刻/分/钟 after it
    said_as_time = kind != "cn" or groups["half"] or groups["quarter"] or groups["minute"] or groups["clock"]
    weak_period = period is None or len(groups["period"]) == 1  # 早/晚 alone: 早一点, 晚一点
    if weak_period and not groups["hour"].isdigit() and not said_as_time:
        return None
    if kind == "ampm":
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if groups["ampm"].lower().startswith("p") else 0)
    elif period == _AM:
        hour = 0 if hour == 12 and groups["period"] in ("凌晨", "半夜") else hour
    elif period == _NOON:
        hour = hour if hour >= 11 else hour + 12
    elif period == _PM:
        hour = hour + 12 if hour < 12 else (0 if hour == 12 and groups["period"] != "下午" else hour)
    elif period == _NIGHT:
        hour = hour + 12 if 6 <= hour < 12 else (0 if hour == 12 else hour)
    elif not (hour == 0 or hour > 12 or (kind == "colon" and groups["hour"].startswith("0"))):
        return match.group().strip()  # 3点, 3:30, 3 o'clock: morning or afternoon is not said
    return f"{hour % 24:02d}:{minute:02d}"


def extract_times(text: str, now: datetime | date | None = None) -> list[Entity]:
    """Times of day in Chinese and English, valued ``HH:MM`` (24 h) where the hour is unambiguous
    (``下午三点`` -> 15:00, ``3:30 pm`` -> 15:30, ``15:30``) and as the matched text where it is not
    (``三点半``, ``3:30``). ``now`` is accepted for symmetry with :func:`extract_dates` and unused.

    The span is the time itself: in ``at 3pm`` it is ``3pm``.
    """
    entities = []
    for kind, pattern in _TIME_PATTERNS:
        for match in pattern.finditer(text):
            value = _resolve_time(kind, match)
            if value is not None:
                entities.append(Entity("time", value, match.start(), match.end(), "rule:time"))
    return entities


# ---------------------------------------------------------------------------------------------------
# money

_PREFIX_CURRENCIES = {"¥": "CNY", "￥": "CNY", "US$": "USD", "HK$": "HKD", "$": "USD", "€": "EUR", "£": "GBP"}
_CODES = ("RMB", "CNY", "USD", "EUR", "GBP", "HKD", "JPY")
_SUFFIX_CURRENCIES = {"元": "CNY", "块钱": "CNY", "块": "CNY", "人民币": "CNY", "美元": "USD", "美金": "USD",
                      "刀": "USD", "欧元": "EUR", "英镑": "GBP", "港币": "HKD", "港元": "HKD", "日元": "JPY",
                      "dollars": "USD", "dollar": "USD", "bucks": "USD", "yuan": "CNY", "euros": "EUR",
                      "euro": "EUR"}
_CURRENCY_WORDS = {word.lower(): code for word, code in {**_PREFIX_CURRENCIES, **_SUFFIX_CURRENCIES}.items()}
_CURRENCY_WORDS.update({code.lower(): code for code in _CODES}, rmb="CNY")
_AMOUNT = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?[万千]?"
_CN_AMOUNT = rf"{CN_NUMERAL}+"
# RMB100 is common, so a code before the amount may touch it
_PREFIX = rf"(?P<prefix>{_alternatives(_PREFIX_CURRENCIES)}|{_L}(?:{'|'.join(_CODES)})(?![A-Za-z]))"
_SUFFIX = rf"(?:{_alternatives(_SUFFIX_CURRENCIES)}|(?:{'|'.join(_CODES)}))(?![A-Za-z])"
_MONEY = re.compile(
    rf"{_PREFIX}\s*(?P<amount>{_AMOUNT})(?:\s*(?P<suffix>{_SUFFIX}))?"
    rf"|(?<![0-9.,])(?P<amount2>{_AMOUNT}|{_CN_AMOUNT})\s*(?P<suffix2>{_SUFFIX})(?P<jiao>(?<=块)[一二三四五六七八九]毛?)?",
    re.IGNORECASE,
)
# what may follow 块 when it means yuan: 一百块钱/一百块吧/一百块。 but not 两块蛋糕 (a measure word)
_AFTER_KUAI = set("钱吧了啊呀呢吗嘛的左多整")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def extract_money(text: str) -> list[Entity]:
    """Amounts of money with a currency, valued ``"<amount> <ISO 4217 code>"`` (``"25.99 USD"``).

    Symbols and codes before (¥100, $25.99, USD 30) or words after the number (100元, 一百块,
    25 dollars, 100 RMB); Chinese numerals up to 万 with Chinese currency words; 三块五 is 3.5 CNY.
    A bare number is never money. ``$`` and dollars are taken as USD, ``¥`` as CNY.
    """
    entities = []
    for match in _MONEY.finditer(text):
        amount_text = match.group("amount") or match.group("amount2")
        suffix = match.group("suffix") or match.group("suffix2")
        if suffix and suffix.isascii() and re.search(r"[\u4e00-\u9fff]$", amount_text):
            continue  # 一百dollars: Chinese numerals only with Chinese currency words
        end = match.end()
        if suffix == "块" and not match.group("jiao") and end < len(text):
            following = text[end]
            if _CJK.match(following) and following not in _AFTER_KUAI:
                continue
        amount = parse_amount(amount_text)
        if amount is None or not amount_text.strip():
            continue
        if match.group("jiao"):
            amount += parse_amount(match.group("jiao")[0]) / 10
        code = _currency(match.group("prefix"), suffix)
        entities.append(Entity("money", f"{format_decimal(amount)} {code}", match.start(), end, "rule:money"))
    return entities


def _currency(prefix: str | None, suffix: str | None) -> str:
    word = (prefix or suffix or "").lower()
    return _CURRENCY_WORDS.get(word, "CNY")


# ---------------------------------------------------------------------------------------------------
# rules and the extractor

_BUILTIN_FUNCTIONS: dict[str, Callable[..., list[Entity]]] = {
    "email": lambda text, now, regions: extract_emails(text),
    "money": lambda text, now, regions: extract_money(text),
    "date": lambda text, now, regions: extract_dates(text, now),
    "time": lambda text, now, regions: extract_times(text),
    "phone": lambda text, now, regions: extract_phones(text, regions),
}
# the order is the tie-break priority among built-ins
BUILTINS: tuple[str, ...] = tuple(_BUILTIN_FUNCTIONS)


@dataclass(frozen=True)
class BuiltinRule:
    """One of the built-in extractors by name (see :data:`BUILTINS`); ``regions`` is used by phone."""

    name: str
    regions: tuple[str, ...] = ("CN", "US")

    def __post_init__(self) -> None:
        if self.name not in _BUILTIN_FUNCTIONS:
            raise ConfigError(f"unknown built-in entity rule {self.name!r} (expected one of {', '.join(BUILTINS)})")
        unknown = [region for region in self.regions if region not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ConfigError(f"unknown phone region {unknown[0]!r} (expected ISO 3166 codes such as CN, US)")

    @property
    def priority(self) -> int:
        return 10 + BUILTINS.index(self.name)

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        return _BUILTIN_FUNCTIONS[self.name](text, now, self.regions)


@dataclass(frozen=True)
class RegexRule:
    """A configured regular expression for one entity type, e.g. ``RegexRule("order_id", r"[A-Z]\\d{5,}")``.

    With ``boundary`` (the default) a match must not be glued to ASCII letters or digits, so
    ``\\d{12}`` does not fire inside a 13-digit number; CJK neighbours are fine (``订单A12345``). The
    value is the matched text; the source is ``rule:<name>`` (``name`` defaults to the type). An
    invalid pattern raises :class:`ConfigError` naming the entity type.
    """

    type: str
    pattern: str
    name: str | None = None
    boundary: bool = True
    compiled: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            compiled = re.compile(self.pattern)  # on its own: wrapped, "[A-Z" would compile
        except re.error as error:
            raise ConfigError(f"entity type {self.type!r}: invalid regex {self.pattern!r} ({error})") from None
        if self.boundary:
            # global flags such as (?i) must stay at the very start of the wrapped pattern
            flags = re.match(r"(?:\(\?[aiLmsux]+\))*", self.pattern).group()
            compiled = re.compile(f"{flags}{_L}(?:{self.pattern[len(flags):]}){_R}")
        object.__setattr__(self, "compiled", compiled)
        if self.name is None:
            object.__setattr__(self, "name", self.type)

    @property
    def priority(self) -> int:
        return 0  # configured rules know the domain: they win ties against the built-ins

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        matches = [m for m in self.compiled.finditer(text) if m.end() > m.start()]
        # Customers type ids in lower case ("order e445566"): an upper-case pattern's match in the
        # upper-cased text counts, with the id as the shop writes it, when it holds a digit (so that
        # "[A-Z]{3}" never turns every word into an entity).
        upper = text.upper()
        if upper != text and len(upper) == len(text) and not self.compiled.flags & re.IGNORECASE:
            matches += [m for m in self.compiled.finditer(upper)
                        if m.end() > m.start() and text[m.start():m.end()] != m.group()
                        and any(c.isdigit() for c in m.group())]
        return [Entity(self.type, m.group(), m.start(), m.end(), f"rule:{self.name}") for m in matches]


class RuleExtractor:
    """Runs several rules over a text and keeps a non-overlapping set of their entities.

    ``rules`` holds built-in names (``"email"``, ``"phone"``, ``"date"``, ``"time"``, ``"money"``) or rule
    objects; ``None`` means all built-ins. ``regexes`` maps an entity type to a pattern (or a list of
    patterns) and adds one :class:`RegexRule` each. Overlaps: longest span first, then the lower
    ``priority`` (configured regexes, then email, money, date, time, phone), then the earlier start.
    """

    def __init__(self, rules: list | None = None, regexes: Mapping[str, str | list[str]] | None = None):
        chosen = list(BUILTINS) if rules is None else list(rules)
        self.rules: list[Rule] = [BuiltinRule(rule) if isinstance(rule, str) else rule for rule in chosen]
        for entity_type, patterns in (regexes or {}).items():
            for pattern in [patterns] if isinstance(patterns, str) else patterns:
                self.rules.append(RegexRule(entity_type, pattern))

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        """All rules' entities with overlaps resolved, sorted by start."""
        return non_overlapping(self.candidates(text, now))

    def candidates(self, text: str, now: datetime | date | None = None) -> list[tuple[Entity, int]]:
        """Every rule's entities, overlapping, each with its rule's priority (for :func:`non_overlapping`)."""
        return [(entity, rule.priority) for rule in self.rules for entity in rule.extract(text, now)]


def non_overlapping(candidates: list[tuple[Entity, int]]) -> list[Entity]:
    """(entity, priority) pairs with overlaps resolved as :class:`RuleExtractor` does, sorted by start."""
    ranked = sorted(candidates, key=lambda item: (item[0].start - item[0].end, item[1], item[0].start))
    kept: list[Entity] = []
    for entity, _ in ranked:
        if all(entity.end <= other.start or entity.start >= other.end for other in kept):
            kept.append(entity)
    return sorted(kept, key=lambda entity: (entity.start, entity.end))


def from_config(config: Mapping) -> RuleExtractor:
    """Build an extractor from ``{"builtins": [...], "regexes": {type: pattern}, "phone_regions": [...]}``.

    Every key is optional: ``builtins`` defaults to all, ``regexes`` to none, ``phone_regions`` to
    ``["CN", "US"]``. Unknown keys, unknown built-ins and invalid regexes raise :class:`ConfigError`.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"entity rules config must be a mapping, got {type(config).__name__}")
    unknown = set(config) - {"builtins", "regexes", "phone_regions"}
    if unknown:
        raise ConfigError(f"entity rules config: unknown key {min(unknown)!r} "
                          "(expected builtins, regexes, phone_regions)")
    builtins = config.get("builtins", list(BUILTINS))
    regexes = config.get("regexes") or {}
    regions = config.get("phone_regions", ["CN", "US"])
    if not isinstance(builtins, list) or not all(isinstance(name, str) for name in builtins):
        raise ConfigError("entity rules config: 'builtins' must be a list of names")
    if not isinstance(regexes, Mapping):
        raise ConfigError("entity rules config: 'regexes' must map entity types to patterns")
    for entity_type, patterns in regexes.items():
        if not isinstance(patterns, str) and not (
            isinstance(patterns, list) and all(isinstance(pattern, str) for pattern in patterns)
        ):
            raise ConfigError(f"entity rules config: regexes.{entity_type} must be a pattern or a list of patterns")
    if not isinstance(regions, list) or not all(isinstance(region, str) for region in regions):
        raise ConfigError("entity rules config: 'phone_regions' must be a list of region codes")
    rules = [BuiltinRule(name, tuple(regions)) for name in dict.fromkeys(builtins)]
    return RuleExtractor(rules, regexes)
