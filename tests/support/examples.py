"""The tiny intent set of the model tests: three intents, five texts each, in English and Chinese."""

INTENTS = {
    "refund": ["I want a refund", "give me my money back", "refund my order please", "我要退款", "退款什么时候到账"],
    "order_status": ["where is my order", "track my package", "has my parcel shipped", "我的订单到哪了", "查一下快递"],
    "greet": ["hello", "hi there", "good morning", "你好", "您好啊"],
}
