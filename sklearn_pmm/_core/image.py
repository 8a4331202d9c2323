# SPDX-License-Identifier: BSD-3-Clause
r"""Image windows and their normalised Gram matrices: the inputs of the image PMM.

An image :math:`X` (``h x w``, real, or complex for two channels) is read
through rectangular windows :math:`W_i` (sub-blocks of ``a_i x b_i`` pixels).
Each window gives two Hermitian matrices,

.. math::

    R_i \propto W_i W_i^\dagger \quad (a \times a), \qquad
    C_i \propto W_i^\dagger W_i \quad (b \times b),

normalised element-wise so that the largest :math:`|\text{entry}|` is 1 and
then with their diagonal set to 1 (an all-zero window gives the identity).
Both are invariant to the scale and the sign (or phase) of the window, so the
model sees the shape of the strokes inside each window, not their intensity.

Windows are ``(row, col, height, width)`` in pixels.  A window that crosses
the image's edge is clipped to the image; windows of different sizes are
zero-padded to the common largest size ``(a, b)``, and the padded rows and
columns of their Gram matrices are zero (their diagonal too).

Every function works on a whole stack of images at once: no Python loop runs
over samples or windows.
"""

from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.utils import gen_batches

from sklearn_pmm._core.hermitian import HermitianPacking


def _pair(value, name):
    """``(v, v)`` for an int, ``(v0, v1)`` for a pair of ints."""
    values = np.ravel(np.asarray(value))
    if values.size == 1:
        values = np.repeat(values, 2)
    # Ints only, as for image_shape and windows: 3.0 is not accepted.
    if values.size != 2 or not all(isinstance(v, Integral) and v >= 1 for v in values):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints, got {value!r}."
        )
    return int(values[0]), int(values[1])


def _starts(length, size, step):
    """Starts ``0, step, 2 step, ...`` inside ``length``, until a window of
    ``size`` reaches the end."""
    starts = [0]
    while starts[-1] + size < length and starts[-1] + step < length:
        starts.append(starts[-1] + step)
    return starts


def grid_windows(image_shape, window_shape, stride):
    r"""Windows on a regular grid that cover the whole image.

    Window starts are :math:`0, s, 2s, \dots` along each axis, while the
    previous window ends before the image's last row (column) and the next
    start is inside the image; windows larger than the image, or crossing its
    edge, are clipped to it.  With a stride no larger than the window, every
    pixel is in some window; with a larger one, the pixels between windows,
    and those after the last, are not read.

    Parameters
    ----------
    image_shape : tuple of int
        ``(h, w)`` (a trailing channel axis is ignored).
    window_shape : int or tuple of int
        ``(height, width)`` of the windows; an int gives square windows.
    stride : int or tuple of int
        Steps between window starts along the rows and the columns.

    Returns
    -------
    windows : ndarray of shape (n_windows, 4)
        ``(row, col, height, width)`` of each window, clipped to the image,
        row-major.

    Examples
    --------
    >>> from sklearn_pmm._core.image import grid_windows
    >>> grid_windows((8, 8), 4, 2)[[0, 1, -1]]
    array([[0, 0, 4, 4],
           [0, 2, 4, 4],
           [4, 4, 4, 4]])
    >>> len(grid_windows((8, 8), 4, 2)), len(grid_windows((28, 28), 7, 7))
    (9, 16)
    >>> grid_windows((1, 5), 4, 2)  # clipped to a row image
    array([[0, 0, 1, 4],
           [0, 2, 1, 3]])
    """
    height, width = image_shape[:2]
    size_r, size_c = _pair(window_shape, "window_shape")
    step_r, step_c = _pair(stride, "stride")
    rows = _starts(height, size_r, step_r)
    cols = _starts(width, size_c, step_c)
    starts = [(r, c, size_r, size_c) for r in rows for c in cols]
    return clip_windows(image_shape, starts)


def clip_windows(image_shape, windows):
    """Validate ``(row, col, height, width)`` windows and clip them to the image.

    Parameters
    ----------
    image_shape : tuple of int
        ``(h, w)`` (a trailing channel axis is ignored).
    windows : array-like of shape (n_windows, 4)
        Integer ``(row, col, height, width)``; heights and widths must be
        positive and every window must overlap the image.

    Returns
    -------
    windows : ndarray of shape (n_windows, 4)
        The part of each window inside the image.

    Examples
    --------
    >>> from sklearn_pmm._core.image import clip_windows
    >>> clip_windows((8, 8), [(6, -1, 4, 3)])
    array([[6, 0, 2, 2]])
    """
    height, width = image_shape[:2]
    array = np.asarray(windows)
    if (
        array.ndim != 2
        or array.shape[1] != 4
        or len(array) == 0
        # Ints only, as for image_shape, window_shape and stride.
        or not np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(
            "windows must be a non-empty list of integer (row, col, height, "
            f"width) tuples, got {windows!r}."
        )
    array = array.astype(np.int64)
    row, col, rows, cols = array.T
    if np.any(rows < 1) or np.any(cols < 1):
        raise ValueError(
            f"Window heights and widths must be positive, got {windows!r}."
        )
    top, left = np.maximum(row, 0), np.maximum(col, 0)
    bottom, right = np.minimum(row + rows, height), np.minimum(col + cols, width)
    if np.any(bottom <= top) or np.any(right <= left):
        raise ValueError(
            f"Every window must overlap the {height} x {width} image, got {windows!r}."
        )
    return np.column_stack([top, left, bottom - top, right - left])


def window_pixels(images, windows):
    """The pixels of every window of every image, zero-padded to a common shape.

    Parameters
    ----------
    images : ndarray of shape (N, h, w)
        Real or complex.
    windows : ndarray of shape (n_windows, 4)
        Clipped windows (see :func:`clip_windows`).

    Returns
    -------
    pixels : ndarray of shape (N, n_windows, a, b)
        ``a`` and ``b`` are the largest window height and width; the rows and
        columns beyond a window's own size are zero.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.image import window_pixels
    >>> image = np.arange(9.0).reshape(1, 3, 3)
    >>> window_pixels(image, np.array([[1, 1, 2, 2], [0, 2, 1, 1]]))[0]
    array([[[4., 5.],
            [7., 8.]],
    <BLANKLINE>
           [[2., 0.],
            [0., 0.]]])
    """
    n_samples, height, width = images.shape
    row, col, rows, cols = np.asarray(windows).T
    a, b = rows.max(), cols.max()
    # Index h (w) points at an appended row (column) of zeros.
    row_index = row[:, None] + np.arange(a)
    row_index = np.where(np.arange(a) < rows[:, None], row_index, height)
    col_index = col[:, None] + np.arange(b)
    col_index = np.where(np.arange(b) < cols[:, None], col_index, width)
    padded = np.zeros((n_samples, height + 1, width + 1), dtype=images.dtype)
    padded[:, :height, :width] = images
    return padded[:, row_index[:, :, None], col_index[:, None, :]]


def _normalised_gram(pixels, mask):
    """``pixels @ pixels^H`` per window, largest |entry| 1, then diagonal ``mask``."""
    gram = pixels @ np.conj(np.swapaxes(pixels, -1, -2))
    gram = 0.5 * (gram + np.conj(np.swapaxes(gram, -1, -2)))  # exactly Hermitian
    largest = np.abs(gram).max(axis=(-2, -1), keepdims=True)
    gram = gram / np.where(largest > 0, largest, 1.0)
    diagonal = np.einsum("...ii->...i", gram)
    diagonal[...] = mask
    return gram


def window_grams(images, windows):
    r"""Normalised Gram matrices :math:`R_i` and :math:`C_i` of every window.

    .. math::

        R_i = \mathcal N\!\left(W_i W_i^\dagger\right), \qquad
        C_i = \mathcal N\!\left(W_i^\dagger W_i\right), \qquad
        \mathcal N(G)_{jk} = \begin{cases} 1 & j = k \\
            G_{jk} / \max_{lm} |G_{lm}| & j \ne k \end{cases}

    (:math:`\mathcal N(0)` is the identity).  Both are Hermitian with unit
    diagonal and :math:`|R_{jk}| \le 1`; for real images they are real
    symmetric.  Each window is first divided by its largest :math:`|W_{jk}|`
    (which leaves :math:`\mathcal N` unchanged) so that no product under- or
    overflows.  The rows and columns of the zero padding (windows clipped by
    the image's edge) are zero.

    Parameters
    ----------
    images : ndarray of shape (N, h, w)
        Real, or complex for two-channel images.
    windows : ndarray of shape (n_windows, 4)
        Clipped ``(row, col, height, width)`` windows.

    Returns
    -------
    R : ndarray of shape (N, n_windows, a, a)
    C : ndarray of shape (N, n_windows, b, b)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.image import window_grams
    >>> image = np.array([[[2.0, 0.0], [4.0, 0.0]]])
    >>> R, C = window_grams(image, np.array([[0, 0, 2, 2]]))
    >>> R[0, 0]
    array([[1. , 0.5],
           [0.5, 1. ]])
    >>> C[0, 0]
    array([[1., 0.],
           [0., 1.]])
    """
    pixels = window_pixels(images, windows)
    largest = np.abs(pixels).max(axis=(-2, -1), keepdims=True)
    pixels = pixels / np.where(largest > 0, largest, 1.0)
    rows, cols = np.asarray(windows)[:, 2:].T
    a, b = pixels.shape[-2:]
    row_mask = (np.arange(a) < rows[:, None]).astype(np.float64)
    col_mask = (np.arange(b) < cols[:, None]).astype(np.float64)
    R = _normalised_gram(pixels, row_mask)
    C = _normalised_gram(np.swapaxes(pixels, -1, -2).conj(), col_mask)
    return R, C


def images_from_features(X, image_shape):
    """Images of shape (N, h, w) from rows of flattened pixels.

    Parameters
    ----------
    X : ndarray of shape (N, n_features)
        Row-major flattened images; with a trailing channel axis of 2
        (``image_shape=(h, w, 2)``) the two channels of each pixel are
        adjacent and become the real and imaginary parts.
    image_shape : tuple of int
        ``(h, w)`` or ``(h, w, 2)``, with ``h w`` (times 2) equal to
        ``n_features``.

    Returns
    -------
    images : ndarray of shape (N, h, w)
        float64, or complex128 for two channels.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.image import images_from_features
    >>> images_from_features(np.array([[1.0, 2.0, 3.0, 4.0]]), (1, 2, 2))
    array([[[1.+2.j, 3.+4.j]]])
    """
    X = np.asarray(X, dtype=np.float64)
    images = X.reshape(len(X), *image_shape)
    if len(image_shape) == 3:
        return images[..., 0] + 1j * images[..., 1]
    return images


def gram_features(images, windows, working_memory=None):
    r"""Packed Gram matrices of every window: the image PMM's per-sample inputs.

    The Gram matrices of :func:`window_grams`, each packed into real floats
    with :class:`~sklearn_pmm._core.hermitian.HermitianPacking` (real symmetric
    for real images, complex Hermitian for two channels), so that

    .. math::

        R_i = \sum_t u_{it} T^{(a)}_t, \qquad C_i = \sum_t u'_{it} T^{(b)}_t

    with the packing's basis matrices :math:`T_t`.  The samples are processed
    in chunks that fit in ``working_memory`` MiB.

    Parameters
    ----------
    images : ndarray of shape (N, h, w)
    windows : ndarray of shape (n_windows, 4)
    working_memory : float or None, default=None
        MiB per chunk; ``None`` uses scikit-learn's ``working_memory`` config.

    Returns
    -------
    features : ndarray of shape (N, n_windows * (f_a + f_b))
        The packed :math:`R_i` of all windows, then the packed :math:`C_i`;
        :math:`f_a` is :math:`a(a+1)/2` (real) or :math:`a^2` (complex).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.image import gram_features
    >>> image = np.array([[[2.0, 0.0], [4.0, 0.0]]])
    >>> gram_features(image, np.array([[0, 0, 2, 2]]))
    array([[1. , 0.5, 1. , 1. , 0. , 1. ]])
    """
    windows = np.asarray(windows)
    complex_valued = np.iscomplexobj(images)
    a, b = windows[:, 2].max(), windows[:, 3].max()
    packings = HermitianPacking(a, complex_valued), HermitianPacking(b, complex_valued)
    n_samples, n_windows = len(images), len(windows)
    n_features = n_windows * (packings[0].n_floats + packings[1].n_floats)
    # Bytes per sample of the padded pixels and both Gram stacks, in complex.
    row_bytes = 16 * n_windows * (a * b + a * a + b * b) * 3
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    chunk = max(1, int(working_memory * 2**20 // row_bytes))
    features = np.empty((n_samples, n_features))
    for batch in gen_batches(n_samples, chunk):
        grams = window_grams(images[batch], windows)
        features[batch] = np.concatenate(
            [
                packing.pack(gram.reshape(-1, *gram.shape[-2:])).reshape(len(gram), -1)
                for packing, gram in zip(packings, grams, strict=True)
            ],
            axis=1,
        )
    return features
