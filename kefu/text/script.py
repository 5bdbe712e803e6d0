"""Traditional Chinese characters read as simplified ones, so that 請問可以用信用卡付款嗎 is the question a
shop wrote its examples for as 请问可以用信用卡付款吗.

Customers from Hong Kong, Taiwan and abroad type traditional characters; a shop's examples and documents are
usually in simplified ones (or the other way round), and a model trained on a few thousand sentences has
not seen the other script. OpenCC's conversion tables fold both onto one script before anything is
tokenised, for training and for prediction alike. The result always has the length of the input, character
for character, so entity offsets found in it are offsets in what the customer wrote.
"""

import functools

import opencc


@functools.cache
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    """``text`` with traditional Chinese characters as simplified ones; other characters unchanged.

    >>> simplified("我的訂單到哪裡了 單號D456789")
    '我的订单到哪里了 单号D456789'
    """
    if text.isascii():
        return text
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    # a phrase table changed the length: convert character by character, keeping only 1-to-1 changes
    return "".join(c if len(s := _converter().convert(c)) != 1 else s for c in text)
