"""Redaction of personal data in customer text, before it is stored, logged or classified.

    from kefu.privacy import Redactor
    Redactor().redact("我的手机 138 1234 5678，邮箱 li@example.com")
    # '我的手机 [PHONE]，邮箱 [EMAIL]'

Found: e-mail addresses, phone numbers, mainland resident ID numbers (checksum and birth date checked),
payment card numbers (Luhn and issuer checked), IPv4/IPv6 addresses and configured patterns. Order ids,
prices, dates, times, quantities and tracking numbers are left as they are, unless one is a valid phone,
card or ID number: then only the shop's own order pattern keeps it (``Redactor(keep=...)``).
"""

from kefu.privacy.redactor import Redactor
from kefu.privacy.spans import Span

__all__ = ["Redactor", "Span"]
