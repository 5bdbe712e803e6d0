"""Check digits computed from their definitions, independently of :mod:`kefu.privacy`, so the tests can
tell a really valid ID or card number from one the redactor merely accepts."""


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (ISO/IEC 7812-1)."""
    doubled = [sum(divmod(int(d) * (2 - i % 2), 10)) for i, d in enumerate(reversed(payload))]
    return str(-sum(doubled) % 10)


def id_check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 over the first 17 digits of a resident ID number (GB 11643-1999)."""
    weighted = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = (12 - weighted % 11) % 11
    return "X" if check == 10 else str(check)
