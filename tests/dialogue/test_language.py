import pytest

from kefu.dialogue import detect_language


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("我的订单到哪了", None, "zh"),
        ("where is my order", None, "en"),
        ("我的order A123", None, "zh"),  # mixed: Chinese with an English word and a code
        ("我的order A123", "en", "zh"),
        ("please send it to 北京", None, "zh"),  # two ideographs against three words
        ("I live in 北京 and my parcel has not arrived yet", "zh", "en"),
        ("ｗｈｅｒｅ ｉｓ ｍｙ ｏｒｄｅｒ", None, "en"),  # full-width letters from a Chinese keyboard
        ("A12345", "zh", "zh"),  # an order number is no language
        ("A12345", None, "en"),  # ... and without a previous language the default is used
        ("12345!!", "zh", "zh"),
        ("？？？", "en", "en"),
        ("", "zh", "zh"),
        ("ok", "zh", "zh"),  # one Latin word is too little to switch an ongoing conversation
        ("ok", None, "en"),
        ("ok thanks", "zh", "en"),
        ("好", "en", "zh"),
        ("😀👍", "zh", "zh"),
    ],
)
def test_detect_language(text, previous, expected):
    assert detect_language(text, previous=previous) == expected


def test_default_applies_only_without_evidence():
    assert detect_language("123", default="zh") == "zh"
    assert detect_language("hello there", default="zh") == "en"
