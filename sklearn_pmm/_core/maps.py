# SPDX-License-Identifier: BSD-3-Clause
"""Primary-matrix maps: how the features of a sample become Hermitian matrices.

A map is to a PMM what a kernel is to a Gaussian process: the model, the loss
and the estimators never ask which map they have.  Every map implements the
contract of :class:`PrimaryMap`: its parameter blocks, an initial draw, the
per-sample inputs it precomputes once per data set, the forward stack of
matrices and its vector–Jacobian product, and, where it has one, how an
affine standardisation of the features is folded into its parameters.
"""

from abc import ABC, abstractmethod

import numpy as np

from sklearn_pmm._core.hermitian import HermitianPacking
from sklearn_pmm._core.image import gram_features, images_from_features
from sklearn_pmm._core.params import ParameterBlock, ParameterLayout


class PrimaryMap(ABC):
    """The contract every primary-matrix map implements.

    Parameters
    ----------
    matrix_size : int
        Size ``n`` of the primary matrices.
    complex_valued : bool
        Complex Hermitian (``True``) or real symmetric matrices.

    Attributes
    ----------
    n_systems : int
        Primary matrices ``S`` per sample (1, or one per class).
    per_feature : bool
        Whether the parameters act on the columns of ``X`` one by one, so
        that :meth:`without_features` can remove a column's effect.
    max_chunk_rows : int
        Cap on the samples of one chunk of an evaluation
        (:func:`~sklearn_pmm._core.eigh.chunk_rows`).
    """

    n_systems = 1
    per_feature = False
    # Small chunks: glibc frees the temporaries of a larger chunk back to the
    # system and faults them in again on every evaluation, which costs more
    # than the few Python calls each extra chunk adds
    # (benchmarks/results/chunks.md).
    max_chunk_rows = 256

    def __init__(self, matrix_size, complex_valued):
        self.matrix_size = matrix_size
        self.complex_valued = complex_valued

    @property
    def hermitian_kind(self):
        """Packing kind of the map's Hermitian blocks."""
        return "hermitian" if self.complex_valued else "symmetric"

    @property
    def general_kind(self):
        """Packing kind of the map's general (rectangular) blocks."""
        return "complex" if self.complex_valued else "real"

    @abstractmethod
    def blocks(self):
        """The map's parameter blocks, in layout order."""

    @abstractmethod
    def initial_parameters(self, random_state):
        """A random draw of the map's blocks (a dict), for standardised inputs."""

    def prepare(self, X):
        """Per-sample inputs of :meth:`matrices`, computed once per data set.

        Parameters
        ----------
        X : ndarray of shape (N, n_features)

        Returns
        -------
        inputs : ndarray with first axis N
        """
        return X

    def shared(self, params):
        """Products of the parameters alone that every chunk of one evaluation
        reuses, or ``None``.

        An evaluation in chunks computes them once and passes them to
        :meth:`matrices` and :meth:`backward_terms`, which otherwise compute
        them themselves.
        """
        return None

    @abstractmethod
    def matrices(self, params, inputs, shared=None):
        """The primary matrices of every sample, shape ``(N, S, n, n)``."""

    @abstractmethod
    def backward(self, params, inputs, matrices_grad):
        r"""Block gradients from :math:`\bar G` of shape ``(N, S, n, n)``.

        :math:`\bar G` follows :math:`dL = \operatorname{Re}\sum
        \overline{\bar G}\, dH`; the returned gradients are summed over the
        samples, one array per block, in the same convention.
        """

    def backward_terms(self, params, inputs, matrices_grad, shared=None):
        """Terms of :meth:`backward` that add up over chunks of samples.

        Their sums over the chunks of an evaluation, together with the other
        gradients of the model (any further keys), go to
        :meth:`finish_backward`.  By default they are the block gradients.
        """
        return self.backward(params, inputs, matrices_grad)

    def finish_backward(self, params, grads):
        """The gradients ``grads`` with the summed :meth:`backward_terms`
        turned into block gradients, once per evaluation; by default as they
        are."""
        return grads

    def input_scaling(self, X, sample_weight):
        """``(shift, scale)`` that standardise the features, or ``None``."""
        return None

    def scale_inputs(self, X, scaling):
        """The features in the units :meth:`initial_parameters` expects."""
        return X

    def fold_input_scaling(self, params, shift, scale):
        """Parameters on raw ``x`` equal to ``params`` at ``(x - shift) / scale``."""
        return dict(params)

    def without_features(self, params, unused):
        """Parameters on which the features flagged in ``unused`` have no effect.

        ``unused`` is a boolean mask over the columns of ``X``; only maps with
        :attr:`per_feature` implement it.
        """
        raise NotImplementedError(f"{type(self).__name__} is not per feature")

    @abstractmethod
    def scale(self, params, factor):
        """Parameters whose every primary matrix is multiplied by ``factor``."""

    def smoothness_penalty(self, params):
        """A scale-free measure of how fast the matrices vary with the inputs.

        Returns
        -------
        value : float
        grads : dict
            Its gradient per block (same convention as :meth:`backward`).
        """
        return 0.0, {}


def weighted_mean_scale(values, sample_weight):
    """Weighted mean and standard deviation per column, unusable scales as 1.

    A scale is unusable if it is zero, of rounding size relative to the
    column's mean, or subnormal.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.maps import weighted_mean_scale
    >>> weighted_mean_scale(np.array([[0.0, 5.0], [2.0, 5.0]]), np.ones(2))
    (array([1., 5.]), array([1., 1.]))
    """
    weights = sample_weight / sample_weight.sum()
    mean = weights @ values
    centred = values - mean
    # Divide by the largest deviation first so that huge units do not overflow.
    largest = np.abs(centred).max(axis=0)
    unit = np.where(largest > 0, largest, 1.0)
    scale = unit * np.sqrt(weights @ (centred / unit) ** 2)
    # Constant up to rounding, relative to the column's own magnitude, so that
    # small units (1e-20) are still standardised; a subnormal spread too (its
    # reciprocal overflows when the scaling is folded into the parameters).
    rounding = 10 * np.finfo(np.float64).eps * np.abs(mean)
    usable = (scale > rounding) & (scale >= np.finfo(np.float64).tiny)
    return mean, np.where(usable, scale, 1.0)


def _centred_spread(constant):
    r""":math:`\tilde H_0 = H_0 - \tfrac{\operatorname{tr} H_0}{n} I` and
    :math:`\|\tilde H_0\|_F^2 + 10^{-12}`, the denominator of the smoothness
    prior."""
    n = len(constant)
    centred = constant - np.trace(constant).real / n * np.eye(n)
    return centred, np.vdot(centred, centred).real + 1e-12


class AffineMap(PrimaryMap):
    r"""The affine PMM :math:`H(x) = H_0 + \sum_{l=1}^{p} x_l H_l`.

    Blocks: ``"constant"`` (:math:`H_0`) and ``"couplings"``
    (:math:`H_1, \dots, H_p`), real symmetric or complex Hermitian.  The
    features are standardised to zero mean and unit variance for training;
    the standardisation is folded back exactly into :math:`H_0` and the
    :math:`H_l`.

    Parameters
    ----------
    n_features : int
    matrix_size : int
    complex_valued : bool

    Attributes
    ----------
    spread : float
        Class constant 1.0: the initial :math:`H_0` has its diagonal evenly
        spaced on ``[-spread, spread]`` plus a random Hermitian part of entry
        scale ``spread / sqrt(n)``.
    coupling : float
        Class constant 1.0: the initial :math:`H_l` have entry scale
        ``coupling / sqrt(n p)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.maps import AffineMap
    >>> affine = AffineMap(n_features=1, matrix_size=2, complex_valued=False)
    >>> params = {"constant": np.diag([1.0, -1.0]),
    ...           "couplings": np.array([[[0.0, 1.0], [1.0, 0.0]]])}
    >>> affine.matrices(params, np.array([[2.0]]))[0, 0]
    array([[ 1.,  2.],
           [ 2., -1.]])
    """

    per_feature = True
    spread = 1.0
    coupling = 1.0

    def __init__(self, n_features, matrix_size, complex_valued):
        super().__init__(matrix_size, complex_valued)
        self.n_features = n_features

    def blocks(self):
        n, kind = self.matrix_size, self.hermitian_kind
        return [
            ParameterBlock("constant", kind, (n, n)),
            ParameterBlock("couplings", kind, (self.n_features, n, n)),
        ]

    def initial_parameters(self, random_state):
        n, p = self.matrix_size, self.n_features
        layout = ParameterLayout(self.blocks())
        per_matrix = layout.n_params // (p + 1)
        raw = random_state.standard_normal((p + 1, per_matrix))
        scales = np.empty(p + 1)
        scales[0] = self.spread / np.sqrt(n)
        scales[1:] = self.coupling / np.sqrt(n * p)
        params = layout.unpack((raw * scales[:, None]).ravel())
        params["constant"] += np.diag(np.linspace(-self.spread, self.spread, n))
        return params

    def matrices(self, params, inputs, shared=None):
        n, p = self.matrix_size, self.n_features
        couplings = params["couplings"].reshape(p, n * n)
        stack = inputs @ couplings + params["constant"].reshape(n * n)
        return stack.reshape(len(inputs), 1, n, n)

    def backward(self, params, inputs, matrices_grad):
        # sum_s [1, x_s]_l G_s as one GEMM over the samples.
        n = self.matrix_size
        flat = matrices_grad.reshape(len(inputs), n * n)
        return {
            "constant": flat.sum(axis=0).reshape(n, n),
            "couplings": (inputs.T @ flat).reshape(self.n_features, n, n),
        }

    def input_scaling(self, X, sample_weight):
        return weighted_mean_scale(X, sample_weight)

    def scale_inputs(self, X, scaling):
        shift, scale = scaling
        return (X - shift) / scale

    def fold_input_scaling(self, params, shift, scale):
        scale = np.asarray(scale, dtype=np.float64)
        linear = params["couplings"] / scale[:, None, None]
        constant = params["constant"] - np.tensordot(shift, linear, axes=1)
        return {**params, "constant": constant, "couplings": linear}

    def scale(self, params, factor):
        return {
            **params,
            "constant": params["constant"] * factor,
            "couplings": params["couplings"] * factor,
        }

    def without_features(self, params, unused):
        couplings = params["couplings"].copy()
        couplings[unused] = 0.0
        return {**params, "couplings": couplings}

    def smoothness_penalty(self, params):
        r"""Coupling strength relative to the spread of :math:`H_0`'s spectrum.

        .. math::

            P = \frac{\sum_{l \ge 1} \|H_l\|_F^2}{\|\tilde H_0\|_F^2 + \epsilon},
            \qquad \tilde H_0 = H_0 - \tfrac{\operatorname{tr} H_0}{n} I

        (:math:`\|\tilde H_0\|_F^2 = \sum_i (\lambda_i - \bar\lambda)^2`).
        The eigenvectors of :math:`H(x)`, and so the decoder and expectation
        readouts, do not change when every matrix is scaled, so only this
        ratio says how fast the outputs can vary with ``x``: an L2 penalty on
        the :math:`H_l` alone could be escaped by shrinking :math:`H_0` with
        them.  :math:`\epsilon = 10^{-12}` keeps :math:`P` finite at
        :math:`H_0 \propto I`.
        """
        couplings = params["couplings"]
        centred, spread = _centred_spread(params["constant"])
        strength = np.vdot(couplings, couplings).real
        value = strength / spread
        return value, {
            "constant": (-2 * value / spread) * centred,
            "couplings": (2 / spread) * couplings,
        }


class ProjectedMap(AffineMap):
    r"""The affine PMM on a few learned directions of the features.

    .. math::

        H(x) = H_0 + \sum_{k=1}^{K} (W x)_k B_k,

    with a real projection :math:`W` (``K x p``) and :math:`K` coupling
    matrices :math:`B_k`.  It is the affine map whose couplings are
    restricted to rank :math:`K` in feature space, :math:`H_l = \sum_k
    W_{kl} B_k`, and costs :math:`(K + 1)\,n_f + K p` floats instead of
    :math:`(p + 1)\,n_f` (:math:`n_f` floats per matrix): fewer when there
    are many features.

    Blocks: ``"constant"`` (:math:`H_0`), ``"couplings"`` (:math:`B_k`,
    real symmetric or complex Hermitian) and ``"projection"`` (:math:`W`,
    general real).  The standardisation of the features is folded into
    :math:`W` and :math:`H_0`.

    Parameters
    ----------
    n_features : int
    n_directions : int
        Number :math:`K` of learned directions.
    matrix_size : int
    complex_valued : bool

    Notes
    -----
    :math:`H_0` and the :math:`B_k` start as :class:`AffineMap`'s matrices
    do; the initial :math:`W` has entries of scale :math:`1/\sqrt{p}`, so
    that the projected features of standardised inputs have about unit
    variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.maps import ProjectedMap
    >>> projected = ProjectedMap(3, 1, matrix_size=2, complex_valued=False)
    >>> params = {"constant": np.diag([1.0, -1.0]),
    ...           "couplings": np.array([[[0.0, 1.0], [1.0, 0.0]]]),
    ...           "projection": np.array([[1.0, 0.0, 2.0]])}
    >>> projected.matrices(params, np.array([[1.0, 5.0, 0.5]]))[0, 0]
    array([[ 1.,  2.],
           [ 2., -1.]])
    >>> projected.effective_couplings(params)[:, 0, 1]
    array([1., 0., 2.])
    """

    def __init__(self, n_features, n_directions, matrix_size, complex_valued):
        super().__init__(n_features, matrix_size, complex_valued)
        if n_directions > n_features:
            # W x spans at most n_features directions, as PCA's components.
            raise ValueError(
                f"n_directions={n_directions} must be at most n_features={n_features}."
            )
        self.n_directions = n_directions

    def blocks(self):
        n, kind = self.matrix_size, self.hermitian_kind
        return [
            ParameterBlock("constant", kind, (n, n)),
            ParameterBlock("couplings", kind, (self.n_directions, n, n)),
            ParameterBlock("projection", "real", (self.n_directions, self.n_features)),
        ]

    def initial_parameters(self, random_state):
        directions = AffineMap(self.n_directions, self.matrix_size, self.complex_valued)
        params = directions.initial_parameters(random_state)
        params["projection"] = random_state.standard_normal(
            (self.n_directions, self.n_features)
        ) / np.sqrt(self.n_features)
        return params

    def effective_couplings(self, params):
        r"""The affine map's couplings :math:`H_l = \sum_k W_{kl} B_k`."""
        return np.tensordot(params["projection"].T, params["couplings"], axes=1)

    def factor_couplings(self, couplings):
        r"""``projection`` and ``couplings`` blocks with these effective couplings.

        The inverse of :meth:`effective_couplings` up to a change of basis
        of the directions: the truncated SVD of the packed :math:`H_l`, exact
        when they have rank at most :math:`K` (as fitted ones do).

        Parameters
        ----------
        couplings : ndarray of shape (n_features, n, n)

        Returns
        -------
        params : dict
            ``{"projection": W, "couplings": B}``.
        """
        n, K, p = self.matrix_size, self.n_directions, self.n_features
        kind = self.hermitian_kind
        given = ParameterLayout([ParameterBlock("couplings", kind, (p, n, n))])
        packed = given.pack({"couplings": couplings}).reshape(p, -1)
        left, singular, right = np.linalg.svd(packed, full_matrices=False)
        rank = min(K, len(singular))
        projection = np.zeros((K, p))
        projection[:rank] = left[:, :rank].T
        directions = np.zeros((K, packed.shape[1]))
        directions[:rank] = singular[:rank, None] * right[:rank]
        factored = ParameterLayout([ParameterBlock("couplings", kind, (K, n, n))])
        return {
            "projection": projection,
            "couplings": factored.unpack(directions.ravel())["couplings"],
        }

    def _on_directions(self, params, inputs):
        """The affine map of the projected features ``u = W x``, and ``u``."""
        affine = AffineMap(self.n_directions, self.matrix_size, self.complex_valued)
        return affine, inputs @ params["projection"].T

    def matrices(self, params, inputs, shared=None):
        affine, projected = self._on_directions(params, inputs)
        return affine.matrices(params, projected)

    def backward(self, params, inputs, matrices_grad):
        n, K = self.matrix_size, self.n_directions
        affine, projected = self._on_directions(params, inputs)
        grads = affine.backward(params, projected, matrices_grad)
        # dL/du_k = Re <G_s, B_k>, then through u = W x.
        flat = matrices_grad.reshape(len(inputs), n * n)
        couplings = params["couplings"].reshape(K, n * n)
        projected_grad = (np.conj(flat) @ couplings.T).real
        return {**grads, "projection": projected_grad.T @ inputs}

    def without_features(self, params, unused):
        projection = params["projection"].copy()
        projection[:, unused] = 0.0
        return {**params, "projection": projection}

    def fold_input_scaling(self, params, shift, scale):
        projection = params["projection"] / np.asarray(scale, dtype=np.float64)
        offset = np.tensordot(projection @ shift, params["couplings"], axes=1)
        constant = params["constant"] - offset
        return {**params, "constant": constant, "projection": projection}

    def smoothness_penalty(self, params):
        r""":meth:`AffineMap.smoothness_penalty` of the effective couplings.

        With :math:`A = W W^\top` and :math:`\Gamma_{kk'} = \operatorname{Re}
        \langle B_k, B_{k'} \rangle`, :math:`\sum_l \|H_l\|_F^2 =
        \operatorname{tr}(A \Gamma)`.
        """
        n, K = self.matrix_size, self.n_directions
        couplings = params["couplings"].reshape(K, n * n)
        projection = params["projection"]
        centred, spread = _centred_spread(params["constant"])
        overlaps = (np.conj(couplings) @ couplings.T).real
        directions = projection @ projection.T
        value = np.sum(directions * overlaps) / spread
        return value, {
            "constant": (-2 * value / spread) * centred,
            "couplings": (2 / spread) * (directions @ couplings).reshape(K, n, n),
            "projection": (2 / spread) * overlaps @ projection,
        }


def _hermitian_basis(packing):
    """Basis matrices ``T_t = unpack(e_t)`` of a packing, shape (n_floats, n, n)."""
    return packing.unpack(np.eye(packing.n_floats))


def _packed_adjoint(packing, packed_grad):
    r"""Hermitian :math:`\bar G` with :math:`\operatorname{Re}\sum \overline{\bar G}
    \, dA = \bar p \cdot \operatorname{pack}(dA)` for Hermitian :math:`dA`.

    The adjoint of ``pack`` on Hermitian directions: ``unpack`` with the
    off-diagonal coordinates halved (each appears twice in the matrix).
    """
    n = packing.size
    weights = np.full(packing.n_floats, 0.5)
    weights[: n * (n + 1) // 2][packing._rows == packing._cols] = 1.0
    return packing.unpack(packed_grad * weights)


def _summed_sandwich(outer, middle, basis):
    r""":math:`Y_{cil} = \sum_{s,j,k} A_{scij} M_{cjk} T_{skl}` as two matrix
    products.

    ``outer`` is (s, c, i, j), ``middle`` (c, j, k), ``basis`` (s, k, l); the
    result is (c, i, l).
    """
    # np.einsum of the three operands, unoptimised, loops over all six
    # indices: on the default image PMM it took 15 of the 112 ms of a
    # loss-and-gradient evaluation on 1,257 digits, and 33 ms of the
    # smoothness penalty (3.7 ms now; ad hoc, 1 December 2026).
    applied = outer @ middle  # (s, c, i, k)
    n_terms, n_systems, n_rows, n_inner = applied.shape
    stacked = applied.transpose(1, 2, 0, 3).reshape(n_systems, n_rows, -1)
    return stacked @ basis.reshape(n_terms * n_inner, -1)


def _as_real(array):
    """Real view of a C-contiguous array: complex entries become float pairs."""
    array = np.ascontiguousarray(array)
    if np.iscomplexobj(array):
        return array.view(np.float64)
    return array


class GramWindowMap(PrimaryMap):
    r"""The image PMM: window Gram matrices, a latent matrix, one matrix per class.

    For an image with windows :math:`W_i` and their normalised Gram matrices
    :math:`R_i \propto W_i W_i^\dagger` (``a x a``) and :math:`C_i \propto
    W_i^\dagger W_i` (``b x b``, see :func:`~sklearn_pmm._core.image.window_grams`),

    .. math::

        M = \sum_i K_i R_i K_i^\dagger + L_i C_i L_i^\dagger
            \quad (m \times m), \qquad
        H_c = D_c M D_c^\dagger + B_c \quad (n \times n,\ c = 1..S).

    Blocks: ``"window_left"`` (:math:`K_i`, ``(n_windows, m, a)``),
    ``"window_right"`` (:math:`L_i`, ``(n_windows, m, b)``),
    ``"class_congruence"`` (:math:`D_c`, ``(S, n, m)``), all general
    (complex or real), and ``"class_bias"`` (:math:`B_c`, ``(S, n, n)``,
    Hermitian or symmetric).  None is penalised: rescaling :math:`K_i, L_i`
    against :math:`D_c`, or :math:`D_c` and :math:`B_c` together, leaves
    every eigenvector unchanged, so an L2 penalty on them would only shrink
    the spectra; the readout's penalised decoders bound the outputs.

    **Evaluation.**  With :math:`u` the packed Gram matrices of a sample
    (:func:`~sklearn_pmm._core.image.gram_features`, so :math:`R_i = \sum_t u_{it}
    T_t`) and :math:`\mu` the packed floats of :math:`M` (:math:`M =
    \sum_s \mu_s T'_s`), both layers are linear in the data:

    .. math::

        \mu = u\,\Phi, \quad \Phi_{(i,t)} = \operatorname{pack}(K_i T_t
        K_i^\dagger), \qquad
        H_c = \sum_s \mu_s Q_{sc} + B_c, \quad Q_{sc} = D_c T'_s D_c^\dagger,

    so a batch costs two real GEMMs, ``(N, F) x (F, m^2)`` and ``(N, m^2) x
    (m^2, S n^2)``, and the small parameter-only products
    :math:`\Phi, Q` are built once per evaluation.  The vector–Jacobian
    product runs the same GEMMs transposed (:math:`\bar Q = \mu^\top \bar
    G`, :math:`\bar\mu = \bar G Q^\top`, :math:`\bar\Phi = u^\top
    \bar\mu`), then, for :math:`X = A T A^\dagger` with Hermitian
    :math:`T`, :math:`\bar A = (\bar X + \bar X^\dagger) A T`.

    Parameters
    ----------
    image_shape : tuple of int
        ``(h, w)``, or ``(h, w, 2)`` for two channels read as real and
        imaginary parts (these need ``complex_valued=True``).
    windows : ndarray of shape (n_windows, 4)
        Clipped ``(row, col, height, width)`` windows.
    latent_size : int
        Size ``m`` of the latent matrix :math:`M`.
    matrix_size : int
        Size ``n`` of the class matrices :math:`H_c`.
    n_systems : int
        Number ``S`` of class matrices.
    complex_valued : bool

    Attributes
    ----------
    latent_scale : float
        Class constant 1.0: the initial :math:`K_i, L_i` have entries of
        mean square ``latent_scale**2 / (n_windows (a + b))``, so that
        :math:`M` is about ``latent_scale**2`` times the identity plus
        fluctuations.
    congruence_scale : float
        Class constant 2.0: the initial :math:`D_c` have entries of mean
        square ``congruence_scale**2 / m``.  With these constants, the class
        matrices of the 8 x 8 digits start with a mean level spacing of 2.2
        (spread 11) and levels that move by 0.17 (standard deviation) from
        image to image; 2 rather than 1 (spacing 1.0) made L-BFGS learn
        faster: 63 % and 83 % held-out after 25 and 50 iterations on 600
        digits (mean of 3 seeds), against 50 % and 78 %
        (``benchmarks/results/images_defaults.md``).
    bias_spread : float
        Class constant 1.0: the initial :math:`B_c` have their diagonal
        evenly spaced on ``[-bias_spread, bias_spread]`` plus a random
        Hermitian part of entry scale ``bias_spread / sqrt(n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.maps import GramWindowMap
    >>> image_map = GramWindowMap((4, 4), np.array([[0, 0, 2, 2], [2, 2, 2, 2]]),
    ...                           latent_size=3, matrix_size=2, n_systems=5,
    ...                           complex_valued=True)
    >>> params = image_map.initial_parameters(np.random.RandomState(0))
    >>> inputs = image_map.prepare(np.random.RandomState(1).rand(7, 16))
    >>> image_map.matrices(params, inputs).shape
    (7, 5, 2, 2)
    """

    latent_scale = 1.0
    congruence_scale = 2.0
    bias_spread = 1.0

    def __init__(
        self,
        image_shape,
        windows,
        latent_size,
        matrix_size,
        n_systems,
        complex_valued,
    ):
        super().__init__(matrix_size, complex_valued)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.complex_images = len(self.image_shape) == 3
        if self.complex_images and not complex_valued:
            raise ValueError(
                "Two-channel images have complex Gram matrices: they need "
                "complex matrices (hermitian='complex')."
            )
        self.windows = np.asarray(windows, dtype=np.int64)
        self.latent_size = latent_size
        self.n_systems = n_systems
        self.window_rows = int(self.windows[:, 2].max())
        self.window_cols = int(self.windows[:, 3].max())
        self._input_packings = (
            HermitianPacking(self.window_rows, self.complex_images),
            HermitianPacking(self.window_cols, self.complex_images),
        )
        self._input_bases = [_hermitian_basis(p) for p in self._input_packings]
        self._latent_packing = HermitianPacking(latent_size, complex_valued)
        self._latent_basis = _hermitian_basis(self._latent_packing)

    def blocks(self):
        n_windows, m, n = len(self.windows), self.latent_size, self.matrix_size
        general, hermitian = self.general_kind, self.hermitian_kind
        # Not penalised: K_i -> s K_i, L_i -> s L_i, D_c -> D_c / s and
        # (D_c, B_c) -> (t D_c, t^2 B_c) leave every eigenvector unchanged, so
        # an L2 penalty on these blocks constrains nothing and only shrinks
        # the spectra towards degeneracy (t -> 0).  On digits (held-out 30 %,
        # seed 0, 300 iterations) penalising only the decoders gave 97.4-98.0 %
        # for alpha 1e-3 to 1e-2, penalising everything 96.1-96.3 % for alpha
        # 1e-4 to 1e-2.
        shapes = {
            "window_left": (general, (n_windows, m, self.window_rows)),
            "window_right": (general, (n_windows, m, self.window_cols)),
            "class_congruence": (general, (self.n_systems, n, m)),
            "class_bias": (hermitian, (self.n_systems, n, n)),
        }
        return [
            ParameterBlock(name, kind, shape, penalised=False)
            for name, (kind, shape) in shapes.items()
        ]

    def initial_parameters(self, random_state):
        n_windows, m, n = len(self.windows), self.latent_size, self.matrix_size
        # Packed floats are drawn with unit variance: a complex entry has two.
        per_entry = np.sqrt(2.0) if self.complex_valued else 1.0
        latent = self.latent_scale / np.sqrt(
            n_windows * (self.window_rows + self.window_cols)
        )
        scales = {
            "window_left": latent / per_entry,
            "window_right": latent / per_entry,
            "class_congruence": self.congruence_scale / np.sqrt(m) / per_entry,
            "class_bias": self.bias_spread / np.sqrt(n),
        }
        params = {}
        for block in self.blocks():
            layout = ParameterLayout([block])
            raw = random_state.standard_normal(layout.n_params) * scales[block.name]
            params[block.name] = layout.unpack(raw)[block.name]
        params["class_bias"] = params["class_bias"] + np.diag(
            np.linspace(-self.bias_spread, self.bias_spread, n)
        )
        return params

    def prepare(self, X):
        """Packed window Gram matrices (``image.gram_features``)."""
        images = images_from_features(X, self.image_shape)
        return gram_features(images, self.windows)

    def _latent_products(self, params):
        r""":math:`K_i T_t K_i^\dagger` then :math:`L_i T_t L_i^\dagger`, (F, m, m)."""
        products = []
        for name, basis in zip(
            ("window_left", "window_right"), self._input_bases, strict=True
        ):
            factor = params[name][:, None]  # (n_windows, 1, m, a)
            product = factor @ basis @ np.conj(np.swapaxes(factor, -1, -2))
            products.append(product.reshape(-1, self.latent_size, self.latent_size))
        return np.concatenate(products)

    def _latent_factors(self, params):
        r""":math:`\Phi` of shape (F, m^2): packed :math:`K_i T_t K_i^\dagger`."""
        return self._latent_packing.pack(self._latent_products(params))

    def _class_factors(self, params):
        r""":math:`Q` of shape (m^2, S, n, n): :math:`D_c T'_s D_c^\dagger`."""
        congruence = params["class_congruence"]  # (S, n, m)
        applied = congruence @ self._latent_basis[:, None]  # (m^2, S, n, m)
        return applied @ np.conj(np.swapaxes(congruence, -1, -2))

    def _window_grads(self, params, products_grad):
        r"""Gradients of :math:`K_i, L_i` from Hermitian :math:`\bar X` of the
        products :math:`X_{it} = K_i T_t K_i^\dagger` (F, m, m):
        :math:`\bar K_i = \sum_t 2 \bar X_{it} K_i T_t`."""
        grads, start = {}, 0
        for name, basis in zip(
            ("window_left", "window_right"), self._input_bases, strict=True
        ):
            factor = params[name]  # (n_windows, m, a)
            stop = start + len(factor) * len(basis)
            block = products_grad[start:stop].reshape(
                len(factor), len(basis), *products_grad.shape[1:]
            )
            grads[name] = 2 * _summed_sandwich(np.swapaxes(block, 0, 1), factor, basis)
            start = stop
        return grads

    def shared(self, params):
        r""":math:`\Phi` and :math:`Q`, the same for every chunk of an evaluation."""
        return {
            "latent_factors": self._latent_factors(params),
            "class_factors": self._class_factors(params),
        }

    def matrices(self, params, inputs, shared=None):
        shared = shared or self.shared(params)
        n_samples, n = len(inputs), self.matrix_size
        latent = inputs @ shared["latent_factors"]
        class_factors = shared["class_factors"]
        flat = latent @ _as_real(class_factors.reshape(len(class_factors), -1))
        if self.complex_valued:
            flat = flat.view(np.complex128)
        stack = flat.reshape(n_samples, self.n_systems, n, n)
        return stack + params["class_bias"]

    def backward(self, params, inputs, matrices_grad):
        shared = self.shared(params)
        terms = self.backward_terms(params, inputs, matrices_grad, shared)
        return self.finish_backward(params, terms)

    def backward_terms(self, params, inputs, matrices_grad, shared=None):
        r""":math:`\bar B_c`, :math:`\bar Q` and :math:`\bar\Phi`: the two GEMMs
        of the forward pass, transposed, over the samples of one chunk."""
        shared = shared or self.shared(params)
        n_samples = len(inputs)
        class_factors = shared["class_factors"]
        latent = inputs @ shared["latent_factors"]
        grad_flat = _as_real(matrices_grad.reshape(n_samples, -1))
        latent_grad = (
            grad_flat @ _as_real(class_factors.reshape(len(class_factors), -1)).T
        )
        return {
            "class_bias": matrices_grad.sum(axis=0),
            "class_factors": latent.T @ grad_flat,
            "latent_factors": inputs.T @ latent_grad,
        }

    def finish_backward(self, params, grads):
        r"""The gradients of :math:`D_c, K_i, L_i` from the summed :math:`\bar Q,
        \bar \Phi`: parameter-sized work, done once per evaluation."""
        grads = dict(grads)
        class_factors_grad = grads.pop("class_factors")
        latent_factors_grad = grads.pop("latent_factors")
        if self.complex_valued:
            class_factors_grad = class_factors_grad.view(np.complex128)
        n = self.matrix_size
        class_factors_grad = class_factors_grad.reshape(
            self._latent_packing.n_floats, self.n_systems, n, n
        )
        # Q_sc = D_c T'_s D_c^dagger -> Dbar_c = sum_s (Qbar + Qbar^dagger) D_c T'_s.
        congruence = params["class_congruence"]
        symmetric = class_factors_grad + np.conj(
            np.swapaxes(class_factors_grad, -1, -2)
        )
        grads["class_congruence"] = _summed_sandwich(
            symmetric, congruence, self._latent_basis
        )
        # Phi_(i,t) = pack(K_i T_t K_i^dagger): its Hermitian matrix gradient.
        products_grad = _packed_adjoint(self._latent_packing, latent_factors_grad)
        grads.update(self._window_grads(params, products_grad))
        return grads

    def _constant_features(self):
        """Values of the features that do not depend on the image (NaN if they do).

        The diagonal of every Gram matrix is 1 inside its window and 0 in the
        padding.
        """
        values = []
        for packing, sizes in zip(
            self._input_packings, (self.windows[:, 2], self.windows[:, 3]), strict=True
        ):
            diagonal = np.zeros(packing.n_floats, dtype=bool)
            diagonal[: len(packing._rows)] = packing._rows == packing._cols
            index = np.full(packing.n_floats, -1)
            index[: len(packing._rows)] = packing._rows
            inside = (index[None, :] < sizes[:, None]).astype(np.float64)
            values.append(np.where(diagonal, inside, np.nan).ravel())
        return np.concatenate(values)

    def smoothness_penalty(self, params):
        r"""Sensitivity of the class matrices to the image, relative to their spread.

        With :math:`H_c(u) = A_c + \sum_f u_f \Psi_{fc}` (:math:`u_f` the
        off-diagonal Gram entries, the only inputs that vary; :math:`A_c =
        D_c M_0 D_c^\dagger + B_c` with :math:`M_0` the latent matrix of
        unit diagonals and zero off-diagonals, and :math:`\Psi_{fc} = D_c
        \Phi_f D_c^\dagger`),

        .. math::

            P = \frac1S \sum_c \frac{\sum_f \|\Psi_{fc}\|_F^2}
                {\|\tilde A_c\|_F^2 + \epsilon},
            \qquad \tilde A_c = A_c - \tfrac{\operatorname{tr} A_c}{n} I .

        It is invariant under the rescalings that leave the eigenvectors
        unchanged, so, unlike an L2 penalty, it bounds how fast they turn as
        the image changes.  :math:`\epsilon = 10^{-12}`.
        """
        n, n_systems = self.matrix_size, self.n_systems
        constant = self._constant_features()
        is_constant = ~np.isnan(constant)
        products = self._latent_products(params)
        congruence = params["class_congruence"]
        congruence_h = np.conj(np.swapaxes(congruence, -1, -2))
        base = np.tensordot(constant[is_constant], products[is_constant], axes=1)
        offset = congruence @ base @ congruence_h + params["class_bias"]
        trace = np.trace(offset, axis1=-2, axis2=-1).real
        centred = offset - trace[:, None, None] / n * np.eye(n)
        spread = np.einsum("cij,cij->c", np.conj(centred), centred).real + 1e-12
        varying = products[~is_constant]  # (F_off, m, m)
        coupling = congruence @ varying[:, None] @ congruence_h  # (F_off, S, n, n)
        strength = np.einsum("fcij,fcij->c", np.conj(coupling), coupling).real
        ratio = strength / spread
        value = float(ratio.mean())
        # Gradients of |X|_F^2 are 2 X; both X are Hermitian.
        coupling_grad = (2.0 / (n_systems * spread))[:, None, None] * coupling
        offset_grad = (-2.0 * ratio / (n_systems * spread))[:, None, None] * centred
        congruence_grad = 2 * offset_grad @ congruence @ base
        congruence_grad += 2 * _summed_sandwich(coupling_grad, congruence, varying)
        products_grad = np.zeros_like(products)
        products_grad[~is_constant] = (congruence_h @ coupling_grad @ congruence).sum(
            axis=1
        )
        base_grad = np.einsum(
            "cji,cjk,ckl->il", np.conj(congruence), offset_grad, congruence
        )
        products_grad[is_constant] = constant[is_constant, None, None] * base_grad
        return value, {
            "class_bias": offset_grad,
            "class_congruence": congruence_grad,
            **self._window_grads(params, products_grad),
        }

    def scale(self, params, factor):
        if factor < 0:
            raise ValueError(
                "The image map can only scale its matrices by a non-negative "
                f"factor, got {factor}."
            )
        return {
            **params,
            "class_congruence": params["class_congruence"] * np.sqrt(factor),
            "class_bias": params["class_bias"] * factor,
        }


MAPS = {
    "affine": AffineMap,
    "projected": ProjectedMap,
    "gram_window": GramWindowMap,
}
"""Primary-matrix map classes by name."""
