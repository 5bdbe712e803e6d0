"""Making trained models smaller and faster: structured pruning of attention heads and feed-forward neurons,
and distillation into a small student."""

from kefu.compress.distill import distill
from kefu.compress.prune import Importance, importance, prune

__all__ = ["Importance", "distill", "importance", "prune"]
