from datetime import date, datetime

import pytest

from kefu.entities import (
    BuiltinRule,
    Entity,
    RegexRule,
    RuleExtractor,
    extract_dates,
    extract_emails,
    extract_money,
    extract_phones,
    extract_times,
    from_config,
)
from kefu.errors import ConfigError

NOW = datetime(2024, 3, 6, 10, 30)  # a Wednesday


def found(entities, text):
    return [(e.type, text[e.start:e.end], e.value) for e in entities]


# (text, expected [(type, surface, value)]) for the default extractor: all built-ins, no regexes
CASES = [
    # phone
    ("我的电话是13812345678谢谢", [("phone", "13812345678", "+8613812345678")]),
    ("手机 138-1234-5678", [("phone", "138-1234-5678", "+8613812345678")]),
    ("+86 138 1234 5678", [("phone", "+86 138 1234 5678", "+8613812345678")]),
    ("call (415) 555-2671 now", [("phone", "(415) 555-2671", "+14155552671")]),
    ("call 415-555-2671", [("phone", "415-555-2671", "+14155552671")]),
    ("London office +44 20 7946 0958", [("phone", "+44 20 7946 0958", "+442079460958")]),
    ("请拨打010-62345678", [("phone", "010-62345678", "+861062345678")]),
    # phone near misses
    ("订单号123456789012什么时候到", []),
    ("A13812345678", []),
    ("1381234567890", []),
    ("我的邮箱是13812345678@163.com", [("email", "13812345678@163.com", "13812345678@163.com")]),
    ("version 12.13812345678", []),
    # email
    ("email me at John.Doe@Example.COM.", [("email", "John.Doe@Example.COM", "John.Doe@example.com")]),
    ("邮箱abc_1@mail.example.cn谢谢", [("email", "abc_1@mail.example.cn", "abc_1@mail.example.cn")]),
    ("not an email: a@b", []),
    # dates, zh
    ("今天能发货吗", [("date", "今天", "2024-03-06")]),
    ("明天下午三点送到", [("date", "明天", "2024-03-07"), ("time", "下午三点", "15:00")]),
    ("后天或者大后天", [("date", "后天", "2024-03-08"), ("date", "大后天", "2024-03-09")]),
    ("昨天下的单", [("date", "昨天", "2024-03-05")]),
    ("下周三可以吗", [("date", "下周三", "2024-03-13")]),
    ("这周五之前", [("date", "这周五", "2024-03-08")]),
    ("上星期天", [("date", "上星期天", "2024-03-03")]),
    ("周一到", [("date", "周一", "2024-03-11")]),
    ("3月5日", [("date", "3月5日", "2024-03-05")]),
    ("十二月二十五号", [("date", "十二月二十五号", "2024-12-25")]),
    ("2024年3月5日", [("date", "2024年3月5日", "2024-03-05")]),
    ("二〇二三年十月一日", [("date", "二〇二三年十月一日", "2023-10-01")]),
    ("2025年1月", [("date", "2025年1月", "2025-01")]),
    ("2024-03-05", [("date", "2024-03-05", "2024-03-05")]),
    ("2024/3/5", [("date", "2024/3/5", "2024-03-05")]),
    ("2月30日", []),
    ("一周三次", []),
    # dates, en
    ("tomorrow at 3pm", [("date", "tomorrow", "2024-03-07"), ("time", "3pm", "15:00")]),
    ("the day after tomorrow", [("date", "the day after tomorrow", "2024-03-08")]),
    ("next Monday", [("date", "next Monday", "2024-03-11")]),
    ("last friday", [("date", "last friday", "2024-03-01")]),
    ("on Friday", [("date", "Friday", "2024-03-08")]),
    ("March 5", [("date", "March 5", "2024-03-05")]),
    ("by Dec. 24th", [("date", "Dec. 24th", "2024-12-24")]),
    ("5 March 2024", [("date", "5 March 2024", "2024-03-05")]),
    ("the 1st of june", [("date", "1st of june", "2024-06-01")]),
    ("March 5th, 2025 at 3:30 pm", [("date", "March 5th, 2025", "2025-03-05"), ("time", "3:30 pm", "15:30")]),
    # times
    ("三点半", [("time", "三点半", "三点半")]),
    ("15:30", [("time", "15:30", "15:30")]),
    ("3:30", [("time", "3:30", "3:30")]),
    ("下午3:30", [("time", "下午3:30", "15:30")]),
    ("晚上八点一刻", [("time", "晚上八点一刻", "20:15")]),
    ("上午10点20分", [("time", "上午10点20分", "10:20")]),
    ("中午12点", [("time", "中午12点", "12:00")]),
    ("凌晨两点", [("time", "凌晨两点", "02:00")]),
    ("八点钟", [("time", "八点钟", "八点钟")]),
    ("at 11 a.m.", [("time", "11 a.m.", "11:00")]),
    ("12am", [("time", "12am", "00:00")]),
    ("seven pm", [("time", "seven pm", "19:00")]),
    ("at noon", [("time", "noon", "12:00")]),
    # time near misses
    ("便宜一点", []),
    ("有两点建议", []),
    ("能早一点吗", []),
    ("晚一点再发", []),
    ("早8点到晚10点", [("time", "早8点", "08:00"), ("time", "晚10点", "22:00")]),
    ("打三点五折", []),
    ("25:00", []),
    # money
    ("¥100", [("money", "¥100", "100 CNY")]),
    ("100元", [("money", "100元", "100 CNY")]),
    ("一百块", [("money", "一百块", "100 CNY")]),
    ("五块钱", [("money", "五块钱", "5 CNY")]),
    ("三块五", [("money", "三块五", "3.5 CNY")]),
    ("两千五百元", [("money", "两千五百元", "2500 CNY")]),
    ("三万元", [("money", "三万元", "30000 CNY")]),
    ("1.5万元", [("money", "1.5万元", "15000 CNY")]),
    ("100 RMB", [("money", "100 RMB", "100 CNY")]),
    ("RMB100", [("money", "RMB100", "100 CNY")]),
    ("$25.99", [("money", "$25.99", "25.99 USD")]),
    ("US$1,299.00", [("money", "US$1,299.00", "1299 USD")]),
    ("25 dollars", [("money", "25 dollars", "25 USD")]),
    ("USD 30", [("money", "USD 30", "30 USD")]),
    ("50 euros", [("money", "50 euros", "50 EUR")]),
    ("20美元", [("money", "20美元", "20 USD")]),
    # money near misses
    ("5 items", []),
    ("两块蛋糕", []),
    ("我们一块去吧", []),
    ("order 100 units", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_default_extractor(text, expected):
    entities = RuleExtractor().extract(text, now=NOW)
    assert found(entities, text) == expected
    assert all(e.source == f"rule:{e.type}" for e in entities)


ORDER_IDS = {"order_id": [r"[A-Z]\d{5,}", r"\d{12}"], "member_id": r"1\d{10}"}


@pytest.mark.parametrize("text, expected", [
    ("订单A12345的退款", [("order_id", "A12345", "A12345")]),
    ("A13812345678", [("order_id", "A13812345678", "A13812345678")]),  # an order id, not a phone
    ("订单号123456789012什么时候到", [("order_id", "123456789012", "123456789012")]),
    ("1234567890123", []),  # 13 digits: \d{12} must not fire inside
    ("XA12345", []),
    # typed in lower case: found, with the id as the shop writes it
    ("whats the status of order e445566", [("order_id", "e445566", "E445566")]),
    # the same span as the phone rule: the configured regex wins the tie
    ("会员13812345678", [("member_id", "13812345678", "13812345678")]),
    # a longer span beats the configured regex
    ("+86 13812345678", [("phone", "+86 13812345678", "+8613812345678")]),
])
def test_configured_regexes(text, expected):
    extractor = RuleExtractor(regexes=ORDER_IDS)
    assert found(extractor.extract(text, now=NOW), text) == expected


def test_overlaps_resolved_and_sorted():
    text = "明天15:30前把¥100退到me@x.com,电话13812345678"
    entities = RuleExtractor().extract(text, now=NOW)
    assert [e.type for e in entities] == ["date", "time", "money", "email", "phone"]
    assert [e.start for e in entities] == sorted(e.start for e in entities)


def test_standalone_extractors_and_now_as_date():
    assert found(extract_emails("x a@b.co"), "x a@b.co") == [("email", "a@b.co", "a@b.co")]
    assert extract_phones("13812345678", regions=("US",)) == [Entity("phone", "+8613812345678", 0, 11, "rule:phone")]
    assert extract_dates("明天", now=date(2024, 12, 31))[0].value == "2025-01-01"
    assert extract_times("3pm")[0].value == "15:00"
    assert extract_money("$5")[0].value == "5 USD"
    # without now, relative dates resolve against today
    assert extract_dates("today")[0].value == date.today().isoformat()


@pytest.mark.parametrize("config, text, expected", [
    ({"regexes": {"order_id": "[A-Z]\\d{5,}"}, "builtins": ["email", "phone", "date", "time", "money"]},
     "A12345 明天", [("order_id", "A12345", "A12345"), ("date", "明天", "2024-03-07")]),
    ({"builtins": ["money"]}, "明天 ¥5", [("money", "¥5", "5 CNY")]),
    ({"builtins": []}, "明天 ¥5", []),
    ({}, "¥5", [("money", "¥5", "5 CNY")]),
    ({"builtins": ["phone"], "phone_regions": ["US"]}, "call 415-555-2671", [("phone", "415-555-2671", "+14155552671")]),
])
def test_from_config(config, text, expected):
    assert found(from_config(config).extract(text, now=NOW), text) == expected


@pytest.mark.parametrize("config, message", [
    ({"regexes": {"order_id": "[A-Z"}}, "entity type 'order_id': invalid regex"),
    ({"regexes": {"order_id": ["ok", "(bad"]}}, "entity type 'order_id': invalid regex '\\(bad'"),
    ({"regexes": {"order_id": 5}}, "regexes.order_id must be a pattern"),
    ({"builtins": ["emails"]}, "unknown built-in entity rule 'emails'"),
    ({"builtins": "email"}, "'builtins' must be a list"),
    ({"phone_regions": ["XX"]}, "unknown phone region 'XX'"),
    ({"regex": {}}, "unknown key 'regex'"),
    (["email"], "must be a mapping"),
])
def test_bad_config(config, message):
    with pytest.raises(ConfigError, match=message):
        from_config(config)


def test_rule_objects():
    rule = RegexRule("order_id", r"[A-Z]\d{5,}", name="orders")
    assert rule.extract("订单A12345") == [Entity("order_id", "A12345", 2, 8, "rule:orders")]
    assert RegexRule("x", r"\d*").extract("abc") == []  # empty matches are not entities
    assert RegexRule("x", r"\d{3}", boundary=False).extract("12345")[0].value == "123"
    extractor = RuleExtractor(["money", BuiltinRule("date"), rule])
    assert [e.type for e in extractor.extract("A12345 ¥5 明天", now=NOW)] == ["order_id", "money", "date"]


def test_lower_case_matches_need_a_digit_and_an_upper_case_pattern():
    assert RegexRule("code", "[A-Z]{3}").extract("the cat sat") == []  # else every word is a code
    assert [e.value for e in RegexRule("code", "[A-Z]{3}").extract("the CAT sat")] == ["CAT"]
    # a pattern that ignores case keeps what was typed, once
    assert [e.value for e in RegexRule("order_id", r"(?i)[A-Z]\d{5}").extract("id e44556")] == ["e44556"]


def test_regex_rule_keeps_global_flags_first():
    assert RegexRule("code", r"(?i)vip\d{3}").extract("我是VIP123") == [Entity("code", "VIP123", 2, 8, "rule:code")]
