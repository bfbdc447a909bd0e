"""skae: scikit-learn autoencoder and variational-autoencoder transformers on PyTorch."""

from skae._autoencoder import AutoencoderTransformer
from skae._vae import VAETransformer

__version__ = "0.1.0"
__all__ = ["AutoencoderTransformer", "VAETransformer", "__version__"]
