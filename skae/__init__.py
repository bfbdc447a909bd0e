"""skae: scikit-learn autoencoder and variational-autoencoder transformers on PyTorch."""

from skae._adversarial import AdversarialAutoencoderTransformer
from skae._autoencoder import AutoencoderTransformer
from skae._imputer import AutoencoderImputer
from skae._persistence import InconsistentVersionWarning, load
from skae._user_networks import Network, UntrustedNetworkError
from skae._vae import VAETransformer
from skae._version import __version__

__all__ = [
    "AdversarialAutoencoderTransformer",
    "AutoencoderImputer",
    "AutoencoderTransformer",
    "InconsistentVersionWarning",
    "Network",
    "UntrustedNetworkError",
    "VAETransformer",
    "__version__",
    "load",
]
