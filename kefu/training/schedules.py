"""Learning-rate schedules: linear warm-up, then cosine, linear or exponential decay."""

import math
from collections.abc import Callable


def lr_factor(schedule: str, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """A multiplier of the base learning rate for each step, for `torch.optim.lr_scheduler.LambdaLR`.

    >>> f = lr_factor("linear", 10, 2)
    >>> [round(f(s), 2) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    decay_steps = max(1, total_steps - warmup_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / decay_steps)
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if schedule == "linear":
            return 1.0 - progress
        if schedule == "exponential":
            return 0.01**progress  # ends at 1% of the peak
        return 1.0

    return factor
