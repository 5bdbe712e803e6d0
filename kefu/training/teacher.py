"""Knowledge distillation's half inside the fit loop: a trained teacher's soft labels and the loss that
pulls a student towards them.

The teacher scores every training text and every unlabelled one; the student then learns the teacher's
whole distribution over intents (which wrong intents are nearly right), not only the gold label, and
learns it on texts nobody labelled too (Hinton et al. 2015; unlabelled in-domain text is how TinyBERT and
DistilBERT-style students close most of the gap).
"""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from kefu.errors import ConfigError


@dataclass
class Teacher:
    """`model` (a trained `kefu.nlu.model.Model`) and the unlabelled texts it labels for the student.

    `temperature` > 1 softens both distributions so the small probabilities carry signal; `weight` scales
    the distillation loss against the gold labels' cross-entropy (unlabelled texts have only the former).
    """

    model: object
    unlabelled: list[str] = field(default_factory=list)
    temperature: float = 2.0
    weight: float = 1.0

    def __post_init__(self):
        if self.temperature <= 0:
            raise ConfigError(f"distillation temperature must be > 0, not {self.temperature}")
        if self.weight < 0:
            raise ConfigError(f"distillation weight must be >= 0, not {self.weight}")

    def describe(self) -> dict:
        """What identifies this teacher in a checkpoint's fingerprint (its weights are not hashed: its
        labels, settings and texts are)."""
        return {
            "labels": list(self.model.labels),
            "unlabelled": self.unlabelled,
            "temperature": self.temperature,
            "weight": self.weight,
        }

    def soft_targets(self, texts: list[str], labels: list[str]) -> torch.Tensor:
        """The teacher's probabilities for `texts` over the student's `labels` (columns in that order),
        softened by the temperature."""
        missing = sorted(set(labels) - set(self.model.labels))
        if missing:
            raise ConfigError(f"the teacher model has no intent {missing[0]!r}: train it on the same labels")
        column = {label: i for i, label in enumerate(self.model.labels)}
        probs = self.model.predict_proba(texts)[:, [column[label] for label in labels]]
        # p^(1/T), renormalised: the teacher's softmax at temperature T, from its probabilities at 1
        logp = torch.log(probs.clamp_min(1e-12)) / self.temperature
        return torch.softmax(logp, dim=-1)

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """`weight` x `distillation_loss` over the rows of one batch."""
        return self.weight * distillation_loss(logits, targets, self.temperature)


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2-scaled KL(teacher || student): `targets` are the teacher's probabilities at `temperature`, the
    student's `logits` are softened by it too (T^2 keeps the gradients' size independent of T)."""
    student = F.log_softmax(logits / temperature, dim=-1)
    return temperature * temperature * F.kl_div(student, targets, reduction="batchmean")
