"""
=====================================================
Saving, loading, and serving a model with ONNX
=====================================================

A fitted model is worth keeping. skae's own format, written by
:meth:`~skae.AutoencoderTransformer.save` and read by :func:`skae.load`, keeps
everything (the network, the scaling, the optimiser's state) in a
safetensors file whose loading never runs code from the file, unlike a
pickle. To serve the model where there is no Python or PyTorch, ONNX is the
ecosystem's format: ``import skae.onnx`` teaches skl2onnx to convert skae's
estimators, so a whole pipeline exports in one call and runs in ONNX Runtime.
This example does both on the digits and checks that the results agree.
"""

# %%
# A pipeline to keep
# ------------------
# Standardised digits, encoded into 8 values by an autoencoder. A short fit:
# the point here is keeping the model, not its quality.
import pickle
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skae
import skae.onnx  # registers skae's converters with skl2onnx
from skae import AutoencoderTransformer
from skae.plotting import ImageGridDisplay

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # 20 epochs, on purpose

X, _ = load_digits(return_X_y=True)
X = X.astype(np.float32)
pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        ("ae", AutoencoderTransformer(n_components=8, max_iter=20, random_state=0)),
    ]
)
codes = pipeline.fit_transform(X)

# %%
# Save and load, safely
# ---------------------
# ``save`` writes one file; ``skae.load`` builds the estimator from skae's own
# classes and checks every tensor against the network's specification. The
# loaded model gives the same codes to the bit, and can be trained further.
folder = Path(tempfile.mkdtemp())
ae = pipeline.named_steps["ae"]
ae.save(folder / "autoencoder.skae")
loaded = skae.load(folder / "autoencoder.skae")
scaled = pipeline.named_steps["scale"].transform(X)
print("identical codes:", np.array_equal(loaded.transform(scaled), ae.transform(scaled)))
print(f"file size: {(folder / 'autoencoder.skae').stat().st_size / 1e3:.0f} kB")

# %%
# A file that is not a skae model, here a pickle renamed (which could run any
# code when unpickled), is refused without being unpickled:
(folder / "suspicious.skae").write_bytes(pickle.dumps(ae))
try:
    skae.load(folder / "suspicious.skae")
except ValueError as error:
    print("refused:", str(error)[:80], "...")

# %%
# Export to ONNX
# --------------
# skl2onnx converts the whole pipeline: the standardisation, skae's internal
# scaling and the encoder become one ONNX graph, with a free batch dimension.
# ONNX Runtime computes it without PyTorch; the codes agree with skae's to
# float32 rounding.
encoder_model = to_onnx(pipeline, X[:1])
session = onnxruntime.InferenceSession(
    encoder_model.SerializeToString(), providers=["CPUExecutionProvider"]
)
(onnx_codes,) = session.run(None, {session.get_inputs()[0].name: X})
print(f"largest difference of the codes: {np.abs(onnx_codes - codes).max():.2g}")

# %%
# The decoder exports too, with ``skae.onnx.to_onnx(..., method="inverse_transform")``:
# codes in, the autoencoder's (scaled) reconstruction out. Decoded by ONNX
# Runtime and by skae, the reconstructions of a few digits look alike.
decoder_model = skae.onnx.to_onnx(ae, method="inverse_transform")
session = onnxruntime.InferenceSession(
    decoder_model.SerializeToString(), providers=["CPUExecutionProvider"]
)
(onnx_scaled,) = session.run(None, {session.get_inputs()[0].name: onnx_codes[:6]})
unscale = pipeline.named_steps["scale"].inverse_transform
rows = {
    "input": X[:6],
    "skae": unscale(ae.inverse_transform(codes[:6])),
    "ONNX Runtime": unscale(onnx_scaled),
}
display = ImageGridDisplay(list(rows.values()), row_labels=list(rows)).plot()
display.ax_.set_title("Reconstructions decoded by skae and by ONNX Runtime")
plt.show()
