"""Torch building blocks of skae's own networks."""

import pickle

import torch

from skae._layers import ConvEncoder, Linear, LinearShortcut, make_encoder_decoder, mlp


# Pickles made before the layers moved out of skae._networks name them there:
# those names still find the same classes.
def test_old_pickle_paths_find_the_layers():
    for cls in (Linear, LinearShortcut, ConvEncoder):
        assert pickle.loads(f"cskae._networks\n{cls.__name__}\n.".encode()) is cls
    assert pickle.loads(b"cskae._networks\nmlp\n.") is mlp


# The MLP encoder and decoder mirror each other; with the shortcut, the
# decoder starts as the linear map alone.
def test_make_encoder_decoder():
    encoder, decoder = make_encoder_decoder(
        10, 6, 3, architecture="mlp", hidden_layer_sizes=(8,), activation="relu",
        linear_shortcut=True,
    )  # fmt: skip
    assert isinstance(encoder, LinearShortcut) and isinstance(decoder, LinearShortcut)
    z = torch.randn(4, 3)
    torch.testing.assert_close(decoder(z), decoder.linear(z))
    assert encoder(torch.randn(4, 10)).shape == (4, 6)
