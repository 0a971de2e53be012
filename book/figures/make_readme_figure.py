"""Make book/figures/readme_result.png: microstructure -> FFT flux field -> learned property.

Run from the repository root: ``.venv/bin/python book/figures/make_readme_figure.py`` (about 20 s).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import qmc  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.gaussian_process import GaussianProcessRegressor  # noqa: E402
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from mslearn import descriptors  # noqa: E402
from mslearn.homogenization import conductivity  # noqa: E402
from mslearn.plotting import parity, show_structure  # noqa: E402
from mslearn.structures import random_inclusions  # noqa: E402

size, n = 96, 256
low, high = np.array([[0.10, 0.45], [3.0, 12.0], [1.0, 4.0], [0.0, np.pi]]).T
design = qmc.scale(qmc.Sobol(4, seed=0).random(n), low, high)
images = np.stack([random_inclusions((size, size), p[0], radius=p[1], aspect_ratio=p[2], orientation=p[3], seed=i)
                   for i, p in enumerate(design)])
result = conductivity(images, [1.0, 10.0], batch=True, tol=1e-5, return_fields=True)
k_xx = result.effective[:, 0, 0]
s2 = np.fft.fftshift(descriptors.two_point_correlation(images, batch=True), axes=(1, 2))
X = s2[:, size // 2 - 6:size // 2 + 7, size // 2 - 6:size // 2 + 7].reshape(n, -1)
train, test = train_test_split(np.arange(n), test_size=0.25, random_state=0)
model = make_pipeline(PCA(10), StandardScaler(), GaussianProcessRegressor(
    ConstantKernel() * RBF(np.ones(10)) + WhiteKernel(), normalize_y=True, random_state=0))
model.fit(X[train], k_xx[train])

fig, axes = plt.subplots(1, 3, figsize=(12, 3.9))
example = int(np.argmin(np.abs(design[:, 1] - 5) + 2 * (design[:, 2] < 2.5) + np.abs(design[:, 0] - 0.3)))
show_structure(images[example], ax=axes[0], title="1. generated microstructure")
field = result.fields["flux_magnitude"][example, 0]
# voxel staircase corners concentrate the flux; clip the colour scale so the pattern stays visible
flux = axes[1].imshow(field, cmap="inferno", vmax=np.percentile(field, 99))
axes[1].set_title("2. FFT solver: heat flux (load along axis 0, vertical)", fontsize=10)
axes[1].axis("off")
fig.colorbar(flux, ax=axes[1], fraction=0.046)
parity(k_xx[test], model.predict(X[test]), ax=axes[2], label="S2 → PCA → GP", units="$k^*_{xx}$")
axes[2].set_title("3. learned: held-out test set")
fig.tight_layout()
fig.savefig("book/figures/readme_result.png", dpi=100)
