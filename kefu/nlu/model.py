"""`Model`: a trained intent classifier that predicts, evaluates and saves itself."""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from kefu.errors import ArtifactError
from kefu.nlu.artifact import read_artifact, save_artifact
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.nlu.oos import OOS_LABEL, Threshold, decide, in_scope_scores
from kefu.text.ngrams import NgramFeaturizer

TOP_K = 5


@dataclass
class Prediction:
    text: str
    intent: str
    confidence: float
    ranking: list[dict] = field(default_factory=list)  # [{"intent", "confidence"}], best first
    oos: bool = False  # True when `intent` is `out_of_scope`: the model does not commit to an intent
    oos_score: float = 0.0  # 1 - best in-scope probability: higher means more likely out of scope

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": self.confidence,
            "ranking": self.ranking,
            "oos": self.oos,
            "oos_score": self.oos_score,
        }


class Model:
    """Network + tokenizer + n-gram features + label names, with the training config and metrics."""

    def __init__(
        self,
        network: IntentNetwork,
        inputs: InputEncoder,
        labels: list[str],
        train_config: dict,
        metrics: dict | None = None,
        oos: Threshold | None = None,
    ):
        self.network = network.eval()
        self.oos = oos
        self.inputs = inputs
        self.labels = labels
        self.train_config = train_config
        self.metrics = metrics or {}

    @torch.inference_mode()
    def predict_proba(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Intent probabilities (n, n_labels) in `self.labels` order."""
        if not texts:
            return torch.zeros(0, len(self.labels))
        out = [
            torch.softmax(self.network(self.inputs.batch(texts[i : i + batch_size])), dim=-1)
            for i in range(0, len(texts), batch_size)
        ]
        return out[0] if len(out) == 1 else torch.cat(out)

    def predict(self, texts: str | list[str]) -> list[Prediction]:
        """Intent, confidence and top-5 ranking per text; `out_of_scope` where the model should not commit."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        probs = self.predict_proba(texts)
        k = min(TOP_K, len(self.labels))
        top_p, top_i = probs.topk(k, dim=-1)
        best, score = in_scope_scores(probs.numpy(), self.labels)
        rejected = decide(probs.numpy(), self.labels, self.oos.value if self.oos is not None else None)
        result = []
        for n, (text, ps, ix, oos) in enumerate(zip(texts, top_p.tolist(), top_i.tolist(), rejected, strict=True)):
            ranking = [{"intent": self.labels[i], "confidence": round(p, 6)} for p, i in zip(ps, ix, strict=True)]
            intent = OOS_LABEL if oos else self.labels[best[n]]
            confidence = round(float(score[n]), 6) if not oos else round(1.0 - float(score[n]), 6)
            result.append(Prediction(text, intent, confidence, ranking, oos, round(1.0 - float(score[n]), 6)))
        return result

    def save(self, out_dir: str | Path) -> Path:
        config = {
            "network": self.network.cfg.to_dict(),
            "train": self.train_config,
            "oos": self.oos.to_dict() if self.oos is not None else None,
        }
        return save_artifact(
            out_dir,
            config=config,
            state=self.network.state_dict(),
            tokenizer_json=self.inputs.tokenizer.to_str(),
            labels=self.labels,
            ngrams=self.inputs.ngrams.to_dict() if self.inputs.ngrams is not None else None,
            metrics=self.metrics,
        )

    @classmethod
    def load(cls, model_dir: str | Path) -> "Model":
        art = read_artifact(model_dir)
        try:
            net_cfg = NetworkConfig.from_dict(art["config"]["network"])
            network = IntentNetwork(net_cfg)
            network.load_state_dict(art["state"], strict=True)
            ngrams = NgramFeaturizer.from_dict(art["ngrams"]) if net_cfg.n_ngrams else None
            tokenizer = Tokenizer.from_file(str(art["tokenizer_path"]))
        except Exception as e:  # noqa: BLE001  (tokenizers raises plain Exception; any mismatch means the same)
            raise ArtifactError(f"{model_dir}: model files do not fit together ({str(e).splitlines()[0]})") from None
        if len(art["labels"]) != net_cfg.n_intents:
            raise ArtifactError(f"{model_dir}: labels.json has {len(art['labels'])} labels, model {net_cfg.n_intents}")
        inputs = InputEncoder(tokenizer, ngrams, net_cfg.encoder.max_len)
        oos = art["config"].get("oos")
        threshold = Threshold(float(oos["value"]), oos["method"], int(oos["n_val"])) if oos else None
        return cls(network, inputs, art["labels"], art["config"].get("train", {}), art["metrics"], threshold)
