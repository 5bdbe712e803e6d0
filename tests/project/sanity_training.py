"""Train the template's intent model and classify phrasings that are not in its training data.

Not a test (it trains for a minute or two): run it after editing the template's ``data/nlu.yml``::

    .venv/bin/python tests/project/sanity_training.py

It prints the accuracy on the held-out phrasings below, every miss, and how confident the model is on
the template's FAQ questions (which no intent covers: the lower, the more of them reach the knowledge
base instead of a wrong intent reply).
"""

import sys
import time
from pathlib import Path

import kefu
from kefu.data import load_dataset
from kefu.knowledge import read_faq
from kefu.project.settings import load_settings

TEMPLATE = Path(__file__).resolve().parents[2] / "kefu" / "project" / "template"

# Written for this check only; none of them is (or should be copied) in the training data.
HELD_OUT: list[tuple[str, str]] = [
    ("hey, anybody here?", "greet"),
    ("hi hi", "greet"),
    ("您好呀，在不在", "greet"),
    ("嗨，你好", "greet"),
    ("ok that's everything, bye now", "goodbye"),
    ("好的拜拜啦", "goodbye"),
    ("thank u very much", "thanks"),
    ("好的好的，感谢", "thanks"),
    ("wait, is this a bot talking?", "bot_challenge"),
    ("你是真的人还是程序", "bot_challenge"),
    ("I'd like to chat with a real agent please", "human_agent"),
    ("帮我接人工", "human_agent"),
    ("I'm so fed up with your shop", "complaint"),
    ("你们太不负责任了，我要投诉", "complaint"),
    ("where is order B7654321 right now", "order_status"),
    ("has A1234567 been sent out yet", "order_status"),
    ("我的包裹还在路上吗", "order_status"),
    ("please cancel order C1234567", "cancel_order"),
    ("这单我不要了，取消吧", "cancel_order"),
    ("I'd like to send back the jacket I bought", "return_item"),
    ("买的鞋子不合脚，能退吗", "return_item"),
    ("still waiting for my refund, any update?", "refund_status"),
    ("退款到现在还没到账", "refund_status"),
    ("how many days until it arrives in Chengdu", "shipping_time"),
    ("下单后多久能送到广州", "shipping_time"),
    ("is delivery free for orders over 100 yuan", "shipping_cost"),
    ("寄到西藏运费多少", "shipping_cost"),
    ("I need to fix the address on my order", "change_address"),
    ("收货地址能改成我家吗", "change_address"),
    ("can I pay using UnionPay", "payment_methods"),
    ("能用Paypal付款吗", "payment_methods"),
    ("my card keeps getting rejected at checkout", "payment_failed"),
    ("付款一直失败怎么回事", "payment_failed"),
    ("I can't get into my account", "account_login"),
    ("账号登录不进去", "account_login"),
    ("how can I recover my password", "reset_password"),
    ("密码忘记了怎么找回", "reset_password"),
    ("could you email me an invoice for my purchase", "invoice"),
    ("我需要开一张公司发票", "invoice"),
    ("is the grey hoodie still available in L", "product_availability"),
    ("这件衣服还有S码吗", "product_availability"),
    ("how do I redeem a promo code", "coupon"),
    ("有没有什么优惠码可以用", "coupon"),
]


def main() -> int:
    settings = load_settings(TEMPLATE)
    examples, _ = load_dataset(TEMPLATE / "data" / "nlu.yml")
    start = time.perf_counter()
    model = kefu.train(examples, settings.train_config())
    print(f"trained on {len(examples)} examples in {time.perf_counter() - start:.0f} s")

    predictions = model.predict([text for text, _ in HELD_OUT])
    # the in-scope best guess, so a rejected-as-out-of-scope phrasing still shows what it was taken for
    guesses = [p.ranking[0]["intent"] for p in predictions]
    hits = sum(guess == gold for guess, (_, gold) in zip(guesses, HELD_OUT, strict=True))
    print(f"held-out accuracy: {hits}/{len(HELD_OUT)} = {hits / len(HELD_OUT):.1%}")
    right = sorted(p.ranking[0]["confidence"] for p, g, (_, gold) in zip(predictions, guesses, HELD_OUT) if g == gold)
    if right:
        below = sum(c < 0.5 for c in right)
        print(f"  confidence of the right ones: median {right[len(right) // 2]:.2f}, {below} below 0.5")
    for prediction, guess, (text, gold) in zip(predictions, guesses, HELD_OUT, strict=True):
        if guess != gold:
            print(f"  miss: {text!r}: {guess} {prediction.ranking[0]['confidence']:.2f} (expected {gold})")

    questions = [passage.title for passage in read_faq(TEMPLATE / "knowledge" / "faq.csv")]
    faq = model.predict(questions)
    low = [p for p in faq if p.oos or p.confidence < 0.5]
    print(f"FAQ questions below confidence 0.5 or out of scope: {len(low)}/{len(faq)}")
    for p in sorted(faq, key=lambda p: -p.ranking[0]["confidence"]):
        print(f"  {p.ranking[0]['confidence']:.2f} {p.ranking[0]['intent']:<20} {p.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
