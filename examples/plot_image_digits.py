"""
=================================================
What the image PMM looks at in handwritten digits
=================================================

:class:`~sklearn_pmm.PMMImageClassifier` reads an image
through overlapping windows :math:`W_i`.  Each window becomes two small
Hermitian matrices, :math:`R_i \\propto W_i W_i^\\dagger` and
:math:`C_i \\propto W_i^\\dagger W_i`, normalised so that only the *shape* of
the strokes inside the window counts, not their intensity.  A latent matrix
:math:`M = \\sum_i K_i R_i K_i^\\dagger + L_i C_i L_i^\\dagger` then feeds one
Hermitian matrix per class, :math:`H_c = D_c M D_c^\\dagger + B_c`, and the
class scores are read from the eigenvectors of each :math:`H_c`.

This example fits the model on scikit-learn's 8 x 8 digits, shows how the
spectra of the ten class matrices respond to one image, and measures which
windows carry the decision by blanking them one at a time.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Fit on the digits
# -----------------
# The default windows are 4 x 4 pixels at a stride of 2: nine windows that
# overlap by half.  The pixels need no scaling, since each window's Gram
# matrices are normalised.  A shortened fit keeps the example quick.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_pmm import PMMImageClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
clf = PMMImageClassifier(max_iter=120, random_state=0)
with warnings.catch_warnings():
    # 120 of the default 400 iterations: L-BFGS warns that it stopped early.
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X_train, y_train)
print(f"{clf.n_params_} trainable floats, {len(clf.windows_)} windows")


# %%
# The class matrices' spectra
# ---------------------------
# :meth:`~sklearn_pmm.PMMImageClassifier.eigenvalues`
# returns the eigenvalues of all ten :math:`H_c` for each image.  Scaling a
# class matrix changes none of its eigenvectors, and the fit leaves that
# scale free, so each spectrum is shown rescaled to :math:`[0, 1]`.  For one
# test image, each column is the spectrum of one class matrix; the two lowest
# levels (the ones read out: ``which="lowest"``, ``n_eigenvectors=2``) are
# drawn thicker, and the bar is the probability the model gives that class.
# On the right, how much each rescaled level moves from image to image (the
# lowest and highest are pinned at 0 and 1 by the rescaling).  The read-out
# level 1 barely moves: the decision is carried by the eigenvectors, which the
# decoders read, more than by the eigenvalues.
def rescaled(levels):
    low, high = levels[..., :1], levels[..., -1:]
    return (levels - low) / (high - low)


index = int(np.flatnonzero(y_test == 3)[0])
levels = rescaled(clf.eigenvalues(X_test[index : index + 1])[0])  # (10, 6)
proba = clf.predict_proba(X_test[index : index + 1])[0]
all_levels = rescaled(clf.eigenvalues(X_test))

fig, axes = plt.subplots(
    1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 3, 3]}
)
axes[0].imshow(X_test[index].reshape(8, 8), cmap="gray_r")
axes[0].set_title(f"test image (a {y_test[index]})")
axes[0].set_axis_off()
for c in range(10):
    for level, value in enumerate(levels[c]):
        width = 3 if level < clf.n_eigenvectors else 1
        axes[1].plot([c - 0.35, c + 0.35], [value, value], "k-", lw=width)
axes[1].bar(range(10), proba, width=0.6, alpha=0.3, color="tab:blue")
axes[1].set_xticks(range(10), [f"$H_{c}$" for c in clf.classes_])
axes[1].set_ylabel("rescaled eigenvalue; probability")
axes[1].set_title("spectra of the class matrices")
spread = all_levels.std(axis=0)  # (10 classes, 6 levels)
image = axes[2].imshow(spread.T, origin="lower", cmap="viridis", aspect="auto")
axes[2].set_xticks(range(10), [f"$H_{c}$" for c in clf.classes_])
axes[2].set_ylabel("level (0 = lowest)")
axes[2].set_title("std of each rescaled level over test images")
fig.colorbar(image, ax=axes[2])
fig.tight_layout()

# %%
# Which windows carry the decision
# --------------------------------
# Blanking a window (setting its pixels to zero) turns its Gram matrices into
# the identity, as if it held no stroke.  The drop of the log-probability of
# the true class, averaged over the test images of each digit, tells how much
# the decision relies on that part of the image.  Each window's drop is
# spread over its pixels (overlapping windows add up).
true_log_proba = clf.predict_log_proba(X_test)[np.arange(len(y_test)), y_test]
drop_maps = np.zeros((10, 8, 8))
for row, col, height, width in clf.windows_:
    blanked = X_test.reshape(-1, 8, 8).copy()
    blanked[:, row : row + height, col : col + width] = 0.0
    log_proba = clf.predict_log_proba(blanked.reshape(len(X_test), 64))
    drop = true_log_proba - log_proba[np.arange(len(y_test)), y_test]
    for digit in range(10):
        mean_drop = drop[y_test == digit].mean()
        drop_maps[digit, row : row + height, col : col + width] += mean_drop

fig, axes = plt.subplots(2, 10, figsize=(12, 2.9))
for digit in range(10):
    mean_image = X_test[y_test == digit].mean(axis=0).reshape(8, 8)
    axes[0, digit].imshow(mean_image, cmap="gray_r")
    axes[0, digit].set_title(str(digit))
    axes[1, digit].imshow(drop_maps[digit], cmap="magma")
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].text(-1.5, 3.5, "mean\nimage", ha="right", va="center")
axes[1, 0].text(-1.5, 3.5, "blanking\ncost", ha="right", va="center")
fig.tight_layout()
plt.show()

centre = drop_maps[:, 2:6, 2:6].mean()
border = (drop_maps.sum() - drop_maps[:, 2:6, 2:6].sum()) / (10 * 48)
print(f"mean blanking cost per pixel: centre {centre:.2f}, border {border:.2f}")

# %%
# Accuracy
# --------
# Even this shortened fit classifies most held-out digits correctly; the
# default ``max_iter`` and the benchmark (``benchmarks/bench_images.py``) go
# further.
accuracy = clf.score(X_test, y_test)
print(f"held-out accuracy: {accuracy:.3f}")
