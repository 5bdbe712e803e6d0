"""`build_network`: the one place a network is put together, for training and for loading alike.

A from-scratch encoder comes from its config alone; a pretrained one from its wheel (cut to the layers the
config keeps); an ONNX encoder, exported earlier, stands in for either kind.
"""

from torch import nn

from kefu.nlu.backbone import PretrainedBackbone, keep_bottom_layers
from kefu.nlu.network import IntentNetwork, NetworkConfig
from kefu.nlu.onnx_encoder import OnnxEncoder
from kefu.nlu.pretrained import load_pretrained


def build_network(
    cfg: NetworkConfig, encoder: OnnxEncoder | None = None, bert: nn.Module | None = None
) -> IntentNetwork:
    """The network for ``cfg``. ``encoder`` replaces the PyTorch encoder with an ONNX one; ``bert`` is the
    pretrained model ``cfg.pretrained`` names when the caller has it loaded already (training reads its
    sizes first), else it is loaded from its wheel."""
    if encoder is not None:
        return IntentNetwork(cfg, encoder)
    if cfg.pretrained is None:
        return IntentNetwork(cfg)
    if bert is None:
        bert = load_pretrained(cfg.pretrained).model
    if cfg.encoder.layers != bert.config.num_hidden_layers:  # encoder_layers: its bottom layers only
        keep_bottom_layers(bert, cfg.encoder.layers)
    return IntentNetwork(cfg, PretrainedBackbone(bert, cfg.train_layers))
