"""`Redactor`, kind by kind, in Chinese and English: what it masks, and the look-alikes it leaves alone."""

import pytest

from kefu.errors import ConfigError
from kefu.privacy import Redactor, Span

REDACTOR = Redactor()

# (text, redacted text), per kind of personal data
EMAILS = [
    ("我的邮箱是zhang.wei@163.com，谢谢", "我的邮箱是[EMAIL]，谢谢"),
    ("please write to m.garcia+orders@outlook.com.", "please write to [EMAIL]."),
    ("发到13812345678@163.com就行", "发到[EMAIL]就行"),  # one e-mail, not a phone inside one
    ("cc: Emma.Brown@Yahoo.com and hr@company.com.cn", "cc: [EMAIL] and [EMAIL]"),
]
PHONES = [
    ("我的手机号13812345678", "我的手机号[PHONE]"),
    ("电话：138 1234 5678。", "电话：[PHONE]。"),
    ("打150-1234-5678找我", "打[PHONE]找我"),
    ("手机 +86 137 2345 6789 谢谢", "手机 [PHONE] 谢谢"),
    ("号码86 13712345678", "号码[PHONE]"),
    ("座机010-62345678", "座机[PHONE]"),
    ("call me at (415) 555-2671 tonight", "call me at [PHONE] tonight"),
    ("my cell is +1 650 253 0000", "my cell is [PHONE]"),
    ("text 650.253.0000 please", "text [PHONE] please"),
    ("London office +44 20 7946 0958", "London office [PHONE]"),
    ("两个号码 138 1234 5678 139 8765 4321", "两个号码 [PHONE] [PHONE]"),
    # a valid number is personal data whatever the customer calls it
    ("my order 13812345678 has not arrived", "my order [PHONE] has not arrived"),
    ("订单13812345678", "订单[PHONE]"),
    ("订单 13812345678", "订单 [PHONE]"),
    ("快递单号13812345678", "快递单号[PHONE]"),
    ("order 2024031212 never arrived", "order [PHONE] never arrived"),  # a valid US number
]
ID_NUMBERS = [
    ("身份证号11010519491231002X，清关用", "身份证号[ID_NUMBER]，清关用"),
    ("身份证 11010519491231002x", "身份证 [ID_NUMBER]"),  # a lower-case check character
    ("证件号 110105 19491231 002X", "证件号 [ID_NUMBER]"),
    ("my ID number is 44030519900101123X for customs", "my ID number is [ID_NUMBER] for customs"),
    ("订单号11010519491231002X", "订单号[ID_NUMBER]"),
]
CARDS = [
    ("卡号4111111111111111扣了两次", "卡号[CARD]扣了两次"),
    ("card 4111 1111 1111 1111 was charged twice", "card [CARD] was charged twice"),
    ("退到6222-0212-3456-7890-128", "退到[CARD]"),  # UnionPay, 19 digits
    ("Amex 3782 822463 10005 please", "Amex [CARD] please"),
    ("card 5555 5555 5555 4444 cvv 123", "card [CARD] cvv 123"),
    ("卡号 4111 1111 1111 1111 123", "卡号 [CARD] 123"),  # the security code after it is no part of it
    ("订单6212260200012345670", "订单[CARD]"),  # Luhn-valid UnionPay, whatever it is called
    ("订单号 3528123456789012344 申请退款", "订单号 [CARD] 申请退款"),
]
IPS = [
    ("我的IP是192.168.1.23，登录不了", "我的IP是[IP]，登录不了"),
    ("login from 8.8.8.8.", "login from [IP]."),
    ("v6: 2001:db8::8a2e:370:7334 blocked", "v6: [IP] blocked"),
    ("来源 ::ffff:192.0.2.128 异常", "来源 [IP] 异常"),
    ("1.2.3.4 is my address", "[IP] is my address"),  # a valid dotted quad is an address
]


@pytest.mark.parametrize(("text", "redacted"), EMAILS + PHONES + ID_NUMBERS + CARDS + IPS)
def test_personal_data_becomes_its_placeholder(text: str, redacted: str) -> None:
    assert REDACTOR.redact(text) == redacted


NEAR_MISSES = [
    "订单A12345怎么还没到",
    "where is order B20231108?",
    "订单号 C998877 和 D1234567",
    "这件¥1999，那件$25.00，一共1,299.00",
    "US$ 1,299.99 for 3 units",
    "我2024-03-12下的单，2024年3月12日付的款",
    "delivered 2024/03/12 at 14:30:05",
    "2023.11.08 14:30签收的",  # phonenumbers reads "2023.11.08 14" as a phone number
    "版本 1.2.3.4 闪退",
    "version 10.2.0.1 crashes",
    "firmware v1.2.3.4 and app 2.10.4",
    "1.2.3.4.5 is not an address",
    "10:30:45 is a time, not IPv6",
    "快递单号SF1234567890123一直没更新",
    "tracking 1Z999AA10123456784",
    "运单号 773012345678901",
    "订单号 3528123456789012345 申请退款",  # a Taobao order number: the Luhn check fails
    "order 2024031212001 never arrived",  # 13 digits: no phone number, no card
    "卡号4111 1111 1111 1112是不是输错了",  # the Luhn check fails
    "6222 0212 3456 7891 declined",  # a UnionPay number failing the Luhn check
    "身份证号11010519491231002Y填错了",
    "身份证号110105194912310021填错了",  # the check character should be X
    "身份证 110105199013011234",  # month 13
    "202403121234567890 是我的订单",  # no province 20
    "A13812345678 is a coupon",  # glued to a letter
    "12345678901234567890 is too long for anything",
    "买了2000件，每件500g",
    "邮编100080，门牌号1388",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert REDACTOR.find(text) == []


def test_only_the_shops_own_order_pattern_keeps_a_valid_number() -> None:
    # a shop whose order ids are 19 digits, or a mobile-shaped 11: a span its pattern covers is kept
    redactor = Redactor(keep={"order_id": [r"35\d{17}", r"1\d{10}"]})
    assert redactor.redact("订单号 3528123456789012344") == "订单号 3528123456789012344"
    assert redactor.redact("order 13812345678") == "order 13812345678"
    # covered whole or not at all: a longer card, or an e-mail around an order id, is still masked
    assert Redactor(keep={"order_id": r"\d{4}"}).redact("卡 4111 1111 1111 1111") == "卡 [CARD]"
    assert Redactor(keep={"order_id": r"[A-Z]\d{5}"}).redact("A12345@shop.com") == "[EMAIL]"
    assert REDACTOR.redact("3528123456789012344") == "[CARD]"


def test_spans_do_not_overlap_and_the_longest_wins() -> None:
    text = "身份证44030519900101123X，手机13812345678，邮箱13812345678@163.com"
    assert REDACTOR.find(text) == [Span("id_number", 3, 21), Span("phone", 24, 35), Span("email", 38, 57)]
    # 18 digits that are an ID number (and by chance a Luhn-valid UnionPay length) are one ID number
    assert [s.type for s in REDACTOR.find("证件号 620102199001010257")] == ["id_number"]


def test_configured_patterns_get_their_own_placeholder() -> None:
    redactor = Redactor({"member_no": r"VIP\d{8}", "passport": r"(?i)E\d{8}"})
    text = "会员VIP12345678，护照e12345678，订单A12345"
    assert redactor.redact(text) == "会员[MEMBER_NO]，护照[PASSPORT]，订单A12345"
    assert Redactor({"member_no": r"VIP\d{8}"}).redact("xVIP12345678") == "xVIP12345678"  # glued


def test_phone_regions_decide_which_national_numbers_are_phones() -> None:
    assert Redactor(regions=["GB"]).redact("call 020 7946 0958") == "call [PHONE]"
    assert Redactor(regions=["US"]).redact("电话 010-62345678") == "电话 010-62345678"
    assert Redactor(regions=["US"]).redact("手机13812345678") == "手机[PHONE]"  # mainland mobiles always


@pytest.mark.parametrize(("patterns", "regions"), [({"x": "[A-Z"}, ("CN",)), (None, ("XX",))])
def test_bad_configuration_is_a_config_error(patterns: dict | None, regions: tuple) -> None:
    with pytest.raises(ConfigError):
        Redactor(patterns, regions)
