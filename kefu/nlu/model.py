"""`Model`: a trained intent classifier that predicts, evaluates and saves itself."""

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from kefu.errors import ArtifactError
from kefu.nlu.artifact import read_artifact, save_artifact
from kefu.nlu.inputs import InputEncoder
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.text.ngrams import NgramFeaturizer

TOP_K = 5


@dataclass
class Prediction:
    text: str
    intent: str
    confidence: float
    ranking: list[dict] = field(default_factory=list)  # [{"intent", "confidence"}], best first

    def to_dict(self) -> dict:
        return {"text": self.text, "intent": self.intent, "confidence": self.confidence, "ranking": self.ranking}


class Model:
    """Network + tokenizer + n-gram features + label names, with the training config and metrics."""

    def __init__(
        self,
        network: IntentNetwork,
        inputs: InputEncoder,
        labels: list[str],
        train_config: dict,
        metrics: dict | None = None,
    ):
        self.network = network.eval()
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
        texts = [texts] if isinstance(texts, str) else list(texts)
        probs = self.predict_proba(texts)
        k = min(TOP_K, len(self.labels))
        top_p, top_i = probs.topk(k, dim=-1)
        result = []
        for text, ps, ix in zip(texts, top_p.tolist(), top_i.tolist(), strict=True):
            ranking = [{"intent": self.labels[i], "confidence": round(p, 6)} for p, i in zip(ps, ix, strict=True)]
            result.append(Prediction(text, ranking[0]["intent"], ranking[0]["confidence"], ranking))
        return result

    def save(self, out_dir: str | Path) -> Path:
        config = {"network": self.network.cfg.to_dict(), "train": self.train_config}
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
        return cls(network, inputs, art["labels"], art["config"].get("train", {}), art["metrics"])
