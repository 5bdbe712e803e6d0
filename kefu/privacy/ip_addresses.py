"""IPv4 and IPv6 addresses, found by shape and confirmed by :mod:`ipaddress`.

A valid dotted quad is an address, because that is what it almost always is in a customer message
(``1.2.3.4`` included); the exception is one labelled as a version (``版本 1.2.3.4``, ``version 1.2.3.4``),
and ``v1.2.3.4`` or ``1.2.3.4.5`` never match. IPv6 needs two groups or more, so ``::`` and ``::1`` (no
one's address) and clock times (``10:30:45``, not valid IPv6) are left alone.
"""

import ipaddress
import re
from datetime import date, datetime

from kefu.entities.spans import Entity

_IPV4 = re.compile(r"(?<![A-Za-z0-9.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![A-Za-z0-9]|\.[0-9])")
# hex groups and colons (two colons at least), maybe an IPv4 tail (::ffff:192.0.2.1)
_IPV6 = re.compile(
    r"(?<![A-Za-z0-9_:])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]+(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?![A-Za-z0-9_:]|\.[0-9])"
)
_VERSION_LABEL = re.compile(r"(?:版本号?|(?<![A-Za-z])ver(?:sion)?\.?)\s*(?:是|为|:|：)?\s*\Z", re.IGNORECASE)


def _ipv4(candidate: str) -> bool:
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:  # 256.1.1.1, and leading zeros (010.1.1.1), which the stdlib refuses as ambiguous
        return False
    return True


def _ipv6(candidate: str) -> bool:
    if len([group for group in re.split(r"[:.]", candidate) if group]) < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _version(text: str, start: int) -> bool:
    """Whether the dotted quad at ``start`` follows a version label."""
    return _VERSION_LABEL.search(text, max(0, start - 16), start) is not None


class IpRule:
    """Finds IP addresses for :class:`kefu.entities.RuleExtractor`."""

    name = "ip"
    priority = 3

    def extract(self, text: str, now: datetime | date | None = None) -> list[Entity]:
        found = [match for match in _IPV4.finditer(text) if _ipv4(match.group()) and not _version(text, match.start())]
        found += [match for match in _IPV6.finditer(text) if _ipv6(match.group())]
        return [Entity("ip", match.group(), match.start(), match.end(), source="rule:ip") for match in found]
