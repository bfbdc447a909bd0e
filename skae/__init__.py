"""skae: scikit-learn autoencoder and variational-autoencoder transformers on PyTorch."""

from skae._autoencoder import AutoencoderTransformer
from skae._persistence import InconsistentVersionWarning, load
from skae._vae import VAETransformer
from skae._version import __version__

__all__ = [
    "AutoencoderTransformer",
    "InconsistentVersionWarning",
    "VAETransformer",
    "__version__",
    "load",
]
