"""A tiny bilingual bot project, a deterministic embedder and a trained copy shared by the test session.

The runtime, server and browser tests all use it (tests/conftest.py's ``tiny_project`` fixture is the
trained copy). The project trains in a few seconds: four intents (one answered from the knowledge base, one that
hands off), an out-of-scope class, a form asking for the order number, three FAQ rows. Order numbers are
found by the kefu.yml regex alone (no annotations, so no entity head: a tiny model's entity head would
cut "A12345" to "12345").
"""

import hashlib
import itertools
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from kefu.project.training import train_project

KEFU_YML = """\
name: Tiny shop 小店
languages: [zh, en]
nlu:
  encoder: scratch
  train: {epochs: 40, patience: 40, dim: 32, layers: 1, heads: 2, lr: 0.004, val_fraction: 0.0,
          augment: 0.0, vocab_size: 300, seed: 1}
entities:
  builtins: []
  regexes:
    order_id: "[A-Z]\\\\d{5,8}"
knowledge:
  min_score: 0.35
"""

NLU_YML = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hello there
    - hey
    - good morning
    - hi, anyone there?
    - 你好
    - 您好
    - 在吗
    - 早上好
    - 哈喽
    - 你好，有人吗
- intent: order_status
  examples: |
    - where is my order
    - where is my parcel
    - track my order
    - has my order shipped
    - where is order A12345
    - track B765432 please
    - my package has not arrived
    - 我的订单到哪了
    - 查一下订单
    - 订单 C112233 到哪了
    - 帮我查快递
    - 包裹怎么还没到
- intent: human_agent
  examples: |
    - talk to a human
    - I want a real person
    - agent please
    - connect me to customer service
    - can I speak to someone
    - human
    - 转人工
    - 人工客服
    - 我要找真人
    - 人工
    - 找客服
    - 我要人工服务
- intent: faq
  examples: |
    - do you ship to hong kong
    - can you deliver to hong kong
    - do you offer gift wrapping
    - can I get gift wrap
    - is gift wrapping available
    - shipping to hong kong?
    - 能寄到香港吗
    - 可以寄香港吗
    - 有礼品包装吗
    - 可以包装成礼物吗
    - 香港能送吗
    - 礼品包装多少钱
- intent: out_of_scope
  examples: |
    - what is the weather tomorrow
    - tell me a joke
    - who won the football game
    - what is the capital of france
    - play some music
    - how old is the moon
    - 明天天气怎么样
    - 讲个笑话
    - 今天股票涨了吗
    - 法国的首都是哪里
    - 放首歌
    - 月亮有多大
"""

DOMAIN_YML = """\
languages: [zh, en]
intents:
  greet:
    replies:
      zh: ["您好！有什么可以帮您？"]
      en: ["Hi! How can I help?"]
  order_status:
    form: order_lookup
    replies:
      zh: ["订单 {order_id} 正在配送中，预计 1-3 天送达。"]
      en: ["Order {order_id} is on its way and should arrive in 1-3 days."]
  human_agent:
    handoff: true
  faq:
slots:
  order_id: {entity: order_id}
forms:
  order_lookup:
    required: [order_id]
    ask:
      order_id: {zh: ["请提供您的订单号（例如 A12345）。"], en: ["What is your order number (e.g. A12345)?"]}
fallback:
  zh: ["抱歉，我没有理解您的意思。"]
  en: ["Sorry, I didn't understand that."]
clarify:
  zh: ["您是想问：{options}？"]
  en: ["Did you mean: {options}?"]
handoff_reply:
  zh: ["正在为您转接人工客服，请稍候。"]
  en: ["Let me connect you to a colleague; please hold on."]
intent_labels:
  greet: {zh: 打招呼, en: Say hello}
  order_status: {zh: 查询订单, en: Track an order}
  human_agent: {zh: 转人工, en: Talk to a person}
  faq: {zh: 常见问题, en: FAQ}
policy:
  kb_threshold: 0.3                # the test embedder's similarities are lower than e5's
  clarify_margin: null
  max_fallbacks: 2
"""

FAQ_CSV = """\
question,answer,lang
Do you ship to Hong Kong?,"Yes, we ship to Hong Kong with SF Express in 3-5 business days.",en
Do you offer gift wrapping?,"Yes, gift wrapping is 10 yuan per order; add it at checkout.",en
可以寄到香港吗？,可以，港澳台地区使用顺丰配送，一般 3-5 个工作日送达。,zh
"""


def write_tiny_project(root: Path) -> Path:
    """Write the tiny project into ``root`` (created) and return it."""
    (root / "data").mkdir(parents=True)
    (root / "knowledge").mkdir()
    (root / "kefu.yml").write_text(KEFU_YML, encoding="utf-8")
    (root / "data" / "nlu.yml").write_text(NLU_YML, encoding="utf-8")
    (root / "domain.yml").write_text(DOMAIN_YML, encoding="utf-8")
    (root / "knowledge" / "faq.csv").write_text(FAQ_CSV, encoding="utf-8")
    return root


class WordEmbedder:
    """Hashes Latin words and Chinese characters and character pairs into 512 dimensions: texts that
    share words get similar unit vectors, unrelated ones nearly orthogonal. Deterministic and instant,
    so the tests need no e5 engine."""

    name = "test-words-512"
    _STOP = frozenset("a an the to you do i is it of in on for we can my me".split())  # noqa: SIM905

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 512), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_queries(texts)

    def _vector(self, text: str) -> np.ndarray:
        text = text.lower()
        words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in self._STOP]
        han = re.findall(r"[\u4e00-\u9fff]", text)
        features = words + han + [a + b for a, b in itertools.pairwise(han)]
        vector = np.zeros(512, dtype=np.float32)
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % 512] += 1.0
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run with one intra-op thread, as the server does. On a small shared machine two threads that spin
    waiting for each other make training the tiny model ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_trained: dict[str, Path] = {}
_lock = threading.Lock()


def trained_tiny_project(base: Path) -> Path:
    """The tiny project, trained once per test session (in ``base`` the first time), read-only by contract:
    tests that change it work on :func:`project_copy`."""
    with _lock:
        if "root" not in _trained:
            root = write_tiny_project(base / "tiny-shop")
            train_project(root, progress=False, embedder=WordEmbedder())
            _trained["root"] = root
        return _trained["root"]


def project_copy(trained: Path, target: Path) -> Path:
    """A private copy of a trained project (models included), without its database or secret."""
    shutil.copytree(trained, target, ignore=shutil.ignore_patterns("kefu.db*", ".kefu-secret", "jobs"))
    return target
