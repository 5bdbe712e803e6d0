import pytest
import torch

from kefu.nlu.encoder import EncoderConfig, TransformerEncoder
from kefu.nlu.network import mean_pool


@pytest.mark.parametrize("init", ["normal", "xavier"])
def test_shapes_and_padding_do_not_leak(init):
    torch.manual_seed(0)
    enc = TransformerEncoder(EncoderConfig(vocab_size=50, dim=16, layers=2, heads=2, init=init)).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0]])
    padded_more = torch.tensor([[5, 6, 7, 0, 0, 0, 0]])
    a = mean_pool(enc(ids, ids != 0), ids != 0)
    b = mean_pool(enc(padded_more, padded_more != 0), padded_more != 0)
    assert enc(ids, ids != 0).shape == (1, 5, 16)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_dim_must_divide_heads():
    with pytest.raises(ValueError, match="divisible"):
        TransformerEncoder(EncoderConfig(vocab_size=10, dim=10, heads=3))
