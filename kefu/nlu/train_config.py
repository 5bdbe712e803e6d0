"""Training hyperparameters as data: a dataclass with typed defaults, loadable from YAML or JSON.

It lives beside the model rather than in `kefu.training` because a saved model records the settings it was
trained with, and `kefu.nlu` must not import the package that trains it.
"""

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from kefu.errors import ArtifactError, ConfigError

SCHEDULES = ("cosine", "linear", "exponential", "constant")
ENCODERS = ("scratch", "e5-small", "minilm")
# Sensible starting points per encoder; a config file or flag overrides any of them. A pretrained encoder
# trains only its top layers, on cached lower states, so augmentation (which would change them) is off.
_PRETRAINED = {
    "epochs": 8, "lr": 2e-3, "encoder_lr": 1e-4, "train_layers": 4, "ngrams": False, "augment": 0.0, "max_len": 64
}
ENCODER_DEFAULTS: dict[str, dict] = {
    "scratch": {},
    # BANKING77 validation: top 4 layers without n-grams, 8 epochs 94.22; top 2 with n-grams 93.22 (which
    # overfit after epoch 2: the from-scratch n-gram table learns faster than the pretrained layers).
    "e5-small": _PRETRAINED,
    "minilm": _PRETRAINED,
}
INITS = ("normal", "xavier")


class FieldError(ConfigError):
    """A training setting out of range. ``field`` names it, so that a settings file can point at its line."""

    def __init__(self, field: str, value: object, hint: str, source: str | None = None):
        self.field, self.value, self.hint = field, value, hint
        where = f"{source}: " if source else ""
        super().__init__(f"{where}config field '{field}' = {self.reason()}")

    def reason(self) -> str:
        """What is wrong with the value, without the field's name: ``130 is invalid (hint)``."""
        return f"{self.value!r} is invalid ({self.hint})"


@dataclass
class TrainConfig:
    encoder: str = "scratch"
    # encoder shape
    dim: int = 128
    layers: int = 1
    heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    init: str = "normal"
    max_len: int = 64
    vocab_size: int = 8000
    ngrams: bool = True  # sparse word/char n-gram branch beside the tokens
    ngram_head: bool = False  # the n-grams get their own intent classifier, averaged with the encoder's
    # pretrained encoders only
    train_layers: int = 2  # top layers that learn (-1: all, 0: frozen encoder, heads only)
    # keep only the bottom N layers of the pretrained encoder (0: all): half of e5-small's 12 runs twice as
    # fast, for the few points of accuracy that large batch jobs (kefu analyze) can trade
    encoder_layers: int = 0
    encoder_lr: float = 1e-4  # peak learning rate of the pretrained layers (the heads use `lr`)
    # optimisation
    epochs: int = 4
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06  # fraction of all steps
    schedule: str = "cosine"
    label_smoothing: float = 0.1
    clip: float = 1.0
    patience: int = 3  # epochs without a better validation macro-F1 before stopping
    val_fraction: float = 0.1
    augment: float = 0.2  # probability that a training example is perturbed in an epoch
    seed: int = 0
    # out-of-scope: a fixed threshold, or None to choose one on validation data
    oos_threshold: float | None = None
    oos_reject_rate: float = 0.02  # share of in-scope validation rejected when no OOS example is known

    def __post_init__(self) -> None:
        checks = {
            "encoder": self.encoder in ENCODERS,
            "schedule": self.schedule in SCHEDULES,
            "init": self.init in INITS,
            "dim": self.dim > 0 and self.dim % max(self.heads, 1) == 0,
            "layers": self.layers >= 1,
            "heads": self.heads >= 1,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "encoder_lr": self.encoder_lr > 0,
            "dropout": 0 <= self.dropout < 1,
            "warmup": 0 <= self.warmup < 1,
            "label_smoothing": 0 <= self.label_smoothing < 1,
            "val_fraction": 0 <= self.val_fraction < 1,
            "augment": 0 <= self.augment <= 1,
            "max_len": self.max_len >= 4,
            "encoder_layers": self.encoder_layers >= 0,
            "vocab_size": self.vocab_size >= 100,
            "oos_threshold": self.oos_threshold is None or 0 <= self.oos_threshold <= 1,
            "oos_reject_rate": 0 <= self.oos_reject_rate < 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            name = bad[0]
            hint = {
                "encoder": f"one of {', '.join(ENCODERS)}",
                "schedule": f"one of {', '.join(SCHEDULES)}",
                "init": f"one of {', '.join(INITS)}",
                "dim": "positive and divisible by heads",
            }.get(name, "out of range")
            raise FieldError(name, getattr(self, name), hint)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def for_encoder(cls, encoder: str = "scratch", **overrides) -> "TrainConfig":
        """The defaults of `encoder` (see `ENCODER_DEFAULTS`), then `overrides`."""
        if encoder not in ENCODER_DEFAULTS:
            raise FieldError("encoder", encoder, f"one of {', '.join(ENCODERS)}")
        return cls(**({"encoder": encoder} | ENCODER_DEFAULTS[encoder] | overrides))

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown config field '{unknown[0]}' (known: {', '.join(sorted(known))})")
        try:
            return cls.for_encoder(**data)
        except FieldError as e:
            raise FieldError(e.field, e.value, e.hint, source) from None
        except TypeError as e:  # a value of the wrong type, which the range checks cannot compare
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_saved(cls, data: dict, source: str) -> "TrainConfig":
        """The settings a saved model records (complete, so no encoder defaults apply). Fields this version
        does not know (a newer kefu's) are left out; values it refuses raise ArtifactError naming ``source``."""
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ConfigError) as e:
            raise ArtifactError(f"{source}: the recorded training settings are invalid ({e})") from None

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> "TrainConfig":
        """Settings from a YAML/JSON file, then `overrides` (e.g. from command-line flags)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: cannot parse config: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: config must be a mapping of field: value")
        return cls.from_dict(data | overrides, source=str(path))
