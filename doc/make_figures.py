# SPDX-License-Identifier: BSD-3-Clause
"""Draw the static figures of the user guide into ``doc/_static``.

Run from the repository root whenever a figure should change, and commit the
PNG files::

    python doc/make_figures.py

The figures illustrate mathematical facts about Hermitian matrix families
(eigenvector selection, level crossings, the broadened adjoint). They use
random matrices with fixed seeds and NumPy only: no model is trained, so they
do not depend on the estimators' code or defaults. Figures of trained models
live in the example gallery, which the documentation build executes.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STATIC = Path(__file__).resolve().parent / "_static"


def random_hermitian(rng, n, complex_):
    """A random real symmetric or complex Hermitian matrix (GOE/GUE-like)."""
    a = rng.normal(size=(n, n))
    if complex_:
        a = a + 1j * rng.normal(size=(n, n))
    return (a + a.conj().T) / 2


def family(matrices, X):
    """``H(x) = H_0 + sum_l x_l H_l`` for each row of ``X``."""
    H = np.broadcast_to(matrices[0], (len(X), *matrices[0].shape)).copy()
    for feature, H_l in enumerate(matrices[1:]):
        H = H + X[:, feature, None, None] * H_l
    return H


def figure_which(path):
    """Levels of a 1-D family; "lowest" vs "largest_magnitude" selections."""
    rng = np.random.default_rng(20)
    n, r = 5, 2
    matrices = [random_hermitian(rng, n, False) for _ in range(2)]
    x = np.linspace(-2.5, 2.5, 1001)
    levels = np.linalg.eigvalsh(family(matrices, x[:, None]))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained", sharey=True)
    by_lowest = np.argsort(levels, axis=1)[:, :r]
    by_magnitude = np.argsort(-np.abs(levels), axis=1, kind="stable")[:, :r]
    for ax, chosen, title in [
        (axes[0], by_lowest, '``which="lowest"``: the two lowest levels'),
        (axes[1], by_magnitude, '``which="largest_magnitude"``: the two largest |λ|'),
    ]:
        selected = np.zeros(levels.shape, dtype=bool)
        np.put_along_axis(selected, chosen, True, axis=1)
        ax.plot(x, levels, color="0.75", linewidth=1)
        ax.plot(x, np.where(selected, levels, np.nan), color="C0", linewidth=2.4)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_title(title.replace("``", ""), fontsize="medium")
        ax.set_xlabel("$x$")
    axes[0].set_ylabel(r"eigenvalues of $H(x) = H_0 + x H_1$")
    # Where the magnitude selection changes which levels it reads.
    chosen_sets = np.sort(by_magnitude, axis=1)
    switches = np.flatnonzero(np.any(np.diff(chosen_sets, axis=0), axis=1))
    for i in switches:
        axes[1].axvline(x[i], color="C3", linestyle=":", linewidth=1.2)
    axes[1].plot([], [], color="C3", linestyle=":", label="selection switches")
    axes[1].legend(loc="lower left", fontsize="small")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_level_crossings(path):
    """Smallest gap between adjacent levels over a 2-D input plane."""
    n = 4
    g = np.linspace(-2.0, 2.0, 301)
    X = np.array(np.meshgrid(g, g, indexing="xy")).reshape(2, -1).T
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    gaps = {}
    for ax, complex_, title in [
        (axes[0], False, "real symmetric"),
        (axes[1], True, "complex Hermitian"),
    ]:
        rng = np.random.default_rng(7)
        matrices = [random_hermitian(rng, n, complex_) for _ in range(3)]
        levels = np.linalg.eigvalsh(family(matrices, X))
        gap = np.diff(levels, axis=1).min(axis=1).reshape(len(g), len(g))
        gaps[title] = (matrices, gap)
        im = ax.imshow(
            np.log10(gap),
            extent=[g[0], g[-1], g[0], g[-1]],
            origin="lower",
            cmap="magma",
            vmin=-2.5,
            vmax=0.5,
        )
        ax.set_title(f"{title}: smallest gap, min {gap.min():.1e}", fontsize="medium")
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    fig.colorbar(im, ax=axes[:2], label=r"$\log_{10}\min_k(\lambda_{k+1}-\lambda_k)$")

    # A line through the real family's closest approach: the gap closes as a
    # cone (|distance|), while the complex family's gap along it stays open.
    matrices, gap = gaps["real symmetric"]
    i, j = np.unravel_index(gap.argmin(), gap.shape)
    centre = np.array([g[j], g[i]])
    t = np.linspace(-0.6, 0.6, 601)
    line = centre + t[:, None] * np.array([1.0, 0.0])
    axes[0].plot(line[:, 0], line[:, 1], color="C0", linewidth=1.5)
    axes[1].plot(line[:, 0], line[:, 1], color="C0", linewidth=1.5)
    ax = axes[2]
    for (title, (mats, _)), colour in zip(gaps.items(), ["C0", "C2"], strict=True):
        levels = np.linalg.eigvalsh(family(mats, line))
        ax.plot(t, np.diff(levels, axis=1).min(axis=1), color=colour, label=title)
    ax.set_xlabel("distance along the blue line")
    ax.set_ylabel("smallest gap")
    ax.set_ylim(bottom=0)
    ax.set_title("gap along the line", fontsize="medium")
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_broadening(path):
    """Exact and broadened inverse gaps."""
    eps = 0.1  # exaggerated so that it shows; the estimators use ~1e-8
    gap = np.linspace(-1.0, 1.0, 2001)
    with np.errstate(divide="ignore"):
        exact = 1.0 / gap
    broadened = gap / (gap**2 + eps**2)
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    ax.plot(gap, exact, color="0.6", linewidth=2, label=r"$1/\Delta$")
    ax.plot(gap, broadened, color="C1", label=r"$\Delta/(\Delta^2+\epsilon^2)$")
    ax.axvspan(-eps, eps, color="C1", alpha=0.1)
    ax.set_ylim(-12, 12)
    ax.set_xlabel(r"gap $\Delta = \lambda_j - \lambda_i$")
    ax.set_ylabel("factor in the adjoint")
    ax.set_title(r"Broadened inverse gap ($\epsilon = 0.1$ shown)", fontsize="medium")
    ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    STATIC.mkdir(exist_ok=True)
    figure_which(STATIC / "ug_which.png")
    figure_level_crossings(STATIC / "ug_level_crossings.png")
    figure_broadening(STATIC / "ug_broadening.png")


if __name__ == "__main__":
    main()
