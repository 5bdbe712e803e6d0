"""Numbers the customer introduces as an order, tracking or invoice number.

Shops number their orders with long digit runs (Taobao: 19 digits, JD: 12) and one in ten of those passes
the Luhn check; a ten-digit one reads as a US phone number. What the customer wrote just before the number
settles it: ``订单号 3528123456789012345`` is a reference, not a card.
"""

import re

_LOOKBEHIND = 24  # characters before a number searched for its label: "tracking number is: " fits

_REFERENCE_LABEL = re.compile(
    r"(?:订单|单号|运单|快递|物流|包裹|发票|退货单|售后单|工单|"
    r"(?<![A-Za-z])(?:order|tracking|invoice|parcel|shipment|package|waybill|ticket|reference|ref))"
    r"\s*(?:号码|编号|号|number|no\.?|id|#)?\s*(?:is|是|为)?\s*[:：#]?\s*\Z",
    re.IGNORECASE,
)


def introduced_as_reference(text: str, start: int) -> bool:
    """Whether the number starting at ``start`` follows an order, tracking or invoice label."""
    return _REFERENCE_LABEL.search(text, max(0, start - _LOOKBEHIND), start) is not None
