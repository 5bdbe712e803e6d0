"""Small knowledge folders and a deterministic embedder for the knowledge-base tests."""

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

FAQ_CSV = """id,question,answer,lang
refund-time,How long does a refund take?,Refunds reach your card within 5-7 business days.,en
refund-time-2,When will I get my money back?,Refunds reach your card within 5-7 business days.,en
,How do I change my delivery address?,"Open the order page and choose ""Edit address"".
You can change it until the parcel ships.",en
,退款多久到账？,退款会在3到5个工作日内退回原支付账户。,zh
,怎么修改收货地址？,在订单详情页点击“修改地址”，发货前都可以修改。,zh
,发票怎么开？,在订单详情页申请电子发票，开具后发送到您的邮箱。,zh
"""

SHIPPING_MD = """# Shipping

We ship to most countries.

## Delivery times

Standard delivery takes 3 to 5 working days.

Express delivery takes one working day in major cities.

## Customs

```
# this is not a heading
```

Parcels outside the EU may be charged customs duties by the receiving country. """ + " ".join(
    f"Sentence number {i} about customs paperwork." for i in range(30)
)

NOTES_TXT = """会员每月可以领取一张优惠券。

优惠券不能叠加使用。
"""


class TinyEmbedder:
    """Hashes character bigrams (and Latin words) into 256 dimensions: texts that share words or
    characters get similar unit vectors. Deterministic (no Python ``hash``), and it counts its calls so
    tests can tell whether an index was rebuilt."""

    def __init__(self, name: str = "tiny-hash-256") -> None:
        self.name = name
        self.passage_calls = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, 256), np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.passage_calls += 1
        return self.embed_queries(texts)

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        text = text.lower()
        features = re.findall(r"[a-z0-9]+", text) + [text[i : i + 2] for i in range(len(text) - 1)]
        vector = np.zeros(256, dtype=np.float32)
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % 256] += 1.0
        return vector / max(float(np.linalg.norm(vector)), 1e-12)


@pytest.fixture()
def knowledge_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "faq.csv").write_text(FAQ_CSV, encoding="utf-8")
    (folder / "shipping.md").write_text(SHIPPING_MD, encoding="utf-8")
    (folder / "notes.txt").write_text(NOTES_TXT, encoding="utf-8")
    (folder / "image.png").write_bytes(b"\x89PNG not knowledge")
    return folder


@pytest.fixture()
def embedder() -> TinyEmbedder:
    return TinyEmbedder()
