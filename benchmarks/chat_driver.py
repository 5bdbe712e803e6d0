"""One trained bot project answering customer messages over stdin/stdout, for bench_conversations.py.

    PYTHONPATH=CODE python benchmarks/chat_driver.py PROJECT DATABASE

Reads JSON lines ``{"session_id": str | null, "text": str}`` and writes one JSON line per message:
``{"observed": {...the fields of kefu.stories.Observed...}, "ms": float}`` (``ms``: the time of
``Bot.handle`` alone), or ``{"error": "..."}``. It runs whichever kefu is first on PYTHONPATH, so the same
script drives the current code and an older checkout that predates ``kefu.stories``.
"""

import json
import os
import random
import sys
import time
import traceback

os.environ.setdefault("OMP_NUM_THREADS", "1")

# the protocol owns the real stdout; anything kefu or a library prints goes to stderr instead
PROTOCOL = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
sys.stdout = sys.stderr

import torch

from kefu.runtime import Bot
from kefu.store import open_repository

SEED = 0


class TimedBot:
    """The bot as bot_sender sees it, with the time of the last ``handle`` call kept."""

    def __init__(self, bot: Bot) -> None:
        self.bot, self.repo, self.ms = bot, bot.repo, 0.0

    def handle(self, session_id: str | None, text: str):
        started = time.perf_counter()
        result = self.bot.handle(session_id, text)
        self.ms = (time.perf_counter() - started) * 1000
        return result


def legacy_sender(bot: TimedBot):
    """kefu.stories.bot_sender's rules for code that predates it: the intent the bot acted on is the one
    its stored turn records, ``out_of_scope`` for a fallback; slots from the stored state."""

    def send(session_id: str | None, text: str) -> dict:
        result = bot.handle(session_id, text)
        conversation = bot.repo.get_conversation(result.session_id)
        state = (conversation.state if conversation is not None else None) or {}
        last = bot.repo.history(result.session_id, limit=1)
        acted = last[-1].intent if last and last[-1].role == "bot" else None
        if acted is None and result.decision == "fallback":
            acted = "out_of_scope"
        return {
            "session_id": result.session_id,
            "text": result.reply.text,
            "buttons": [button.title for button in result.reply.buttons],
            "intent": acted or result.intent,
            "confidence": result.confidence,
            "decision": result.decision,
            "handoff": result.handoff,
            "status": result.status,
            "slots": dict(state.get("slots") or {}),
            "sources": [source.source for source in result.sources],
            "nlu_intent": result.intent,
        }

    return send


def sender(bot: TimedBot):
    try:
        from dataclasses import asdict

        from kefu.stories import bot_sender
    except ImportError:
        return legacy_sender(bot)
    send = bot_sender(bot)
    return lambda session_id, text: asdict(send(session_id, text))


def main() -> None:
    project, database = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    bot = TimedBot(
        Bot(project, open_repository(f"sqlite:///{database}"), rng=random.Random(SEED), watch=False)
    )
    send = sender(bot)
    PROTOCOL.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        try:
            observed = send(message.get("session_id"), message["text"])
            answer = {"observed": observed, "ms": bot.ms}
        except Exception as error:  # noqa: BLE001 - one failed turn is reported, the driver keeps going
            traceback.print_exc()
            answer = {"error": f"{type(error).__name__}: {error}"}
        PROTOCOL.write(json.dumps(answer, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main()
