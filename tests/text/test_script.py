import pytest

from kefu.text import normalize
from kefu.text.script import simplified


@pytest.mark.parametrize("text, expected", [
    ("請問可以用信用卡付款嗎", "请问可以用信用卡付款吗"),
    ("我的訂單到哪裡了 單號D456789", "我的订单到哪里了 单号D456789"),
    ("运费怎么算", "运费怎么算"),  # simplified already
    ("where is my order A12345", "where is my order A12345"),
    ("頭髮乾燥 😭", "头发干燥 😭"),
])
def test_simplified_keeps_every_character_in_place(text, expected):
    assert simplified(text) == expected and len(simplified(text)) == len(text)


def test_normalize_folds_script_width_and_case():
    assert normalize("ＡＢＣ運費") == normalize("abc运费") == "abc运费"
