"""The customer-service runtime: answer customers, retrain from reviews.

    from kefu.project.training import train_project
    from kefu.runtime import Bot
    train_project("my-shop")                        # models/nlu + models/knowledge, reused when unchanged
    bot = Bot("my-shop")                            # conversations in my-shop/kefu.db (or $KEFU_DATABASE_URL)
    result = bot.handle(None, "我的订单到哪了")
    print(result.reply.text, result.intent, result.sources)

The server (:mod:`kefu.server`) is a thin HTTP shell over these.
"""

from kefu.api_models import Button, EntityOut, Reply, Source, TurnResult
from kefu.runtime.bot import Bot, MessageError, default_database_url
from kefu.runtime.erasure import Erasure
from kefu.runtime.privacy import redact
from kefu.runtime.retrain import RetrainJobs
from kefu.runtime.reviewed import export_reviewed, reviewed_for_training

__all__ = [
    "Bot",
    "Button",
    "EntityOut",
    "Erasure",
    "MessageError",
    "Reply",
    "RetrainJobs",
    "Source",
    "TurnResult",
    "default_database_url",
    "export_reviewed",
    "redact",
    "reviewed_for_training",
]
