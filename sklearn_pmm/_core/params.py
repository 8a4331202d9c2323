# SPDX-License-Identifier: BSD-3-Clause
"""Named parameter blocks and the float64 parameter vector they make up.

Every trainable quantity of a PMM is a *block*: a stack of matrices or a
vector of one packing kind.  A :class:`ParameterLayout` lays its blocks out
once in one float64 vector (the vector L-BFGS and Adam see) and converts
between that vector, the blocks' arrays and their gradients.

Packing kinds and floats per item:

========================  ==========================  =================
kind                      item                        floats
========================  ==========================  =================
``"symmetric"``           real symmetric n x n        n(n+1)/2
``"hermitian"``           complex Hermitian n x n     n^2
``"real"``                general real a x b          a b
``"complex"``             general complex a x b       2 a b
``"vector"``              real scalars                1 each
========================  ==========================  =================

Gradients of complex quantities follow the convention
:math:`dL = \\operatorname{Re}\\sum \\overline{\\bar x}\\, dx`.
"""

import functools
from dataclasses import dataclass

import numpy as np

from sklearn_pmm._core.hermitian import HermitianPacking

PACKING_KINDS = ("symmetric", "hermitian", "real", "complex", "vector")


@functools.cache
def _hermitian_packing(size, complex_valued):
    # Built once per shape: every predict rebuilds its model's layout.
    return HermitianPacking(size, complex_valued)


@dataclass(frozen=True)
class ParameterBlock:
    """One named block of trainable floats.

    Parameters
    ----------
    name : str
        Key of the block in the parameter dictionaries.
    kind : {"symmetric", "hermitian", "real", "complex", "vector"}
        How each item is packed into floats (see the module docstring).
    shape : tuple of int
        Shape of the block's array: leading (count) axes followed by the
        matrix shape ``(rows, cols)`` for matrix kinds; any shape for
        ``"vector"``.
    penalised : bool, default=True
        Whether the L2 penalty applies to the block's floats.

    Examples
    --------
    >>> from sklearn_pmm._core.params import ParameterBlock
    >>> ParameterBlock("H", "hermitian", (3, 7, 7)).n_floats
    147
    >>> ParameterBlock("K", "complex", (9, 8, 4)).n_floats
    576
    """

    name: str
    kind: str
    shape: tuple
    penalised: bool = True

    def __post_init__(self):
        if self.kind not in PACKING_KINDS:
            raise ValueError(f"kind must be one of {PACKING_KINDS}, got {self.kind!r}.")
        shape = tuple(int(d) for d in self.shape)
        object.__setattr__(self, "shape", shape)
        if self.kind in ("symmetric", "hermitian") and shape[-1] != shape[-2]:
            raise ValueError(f"A {self.kind} block needs square matrices, got {shape}.")

    @property
    def _count(self):
        """Number of packed items (matrices, or scalars for vectors)."""
        if self.kind == "vector":
            return int(np.prod(self.shape, dtype=int))
        return int(np.prod(self.shape[:-2], dtype=int))

    @property
    def _packing(self):
        return _hermitian_packing(self.shape[-1], self.kind == "hermitian")

    @property
    def floats_per_item(self):
        """Floats of one matrix (1 for a vector block)."""
        if self.kind in ("symmetric", "hermitian"):
            return self._packing.n_floats
        if self.kind == "vector":
            return 1
        rows, cols = self.shape[-2:]
        return rows * cols * (2 if self.kind == "complex" else 1)

    @property
    def n_floats(self):
        """Number of floats of the whole block."""
        return self._count * self.floats_per_item

    @property
    def dtype(self):
        """dtype of the block's array."""
        return np.complex128 if self.kind in ("hermitian", "complex") else np.float64


class ParameterLayout:
    """The float64 parameter vector of a list of named blocks.

    The offsets and packings are built once; :meth:`unpack`, :meth:`pack` and
    :meth:`pack_gradient` then convert in vectorised NumPy.

    Parameters
    ----------
    blocks : list of ParameterBlock
        In the order they are laid out in the vector; names must be unique.

    Attributes
    ----------
    n_params : int
        Length of the parameter vector.
    penalised : ndarray of shape (n_params,)
        1.0 for the floats of penalised blocks, 0.0 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.params import ParameterBlock, ParameterLayout
    >>> layout = ParameterLayout([ParameterBlock("A", "symmetric", (1, 2, 2)),
    ...                           ParameterBlock("b", "vector", (1,), penalised=False)])
    >>> layout.n_params
    4
    >>> params = layout.unpack(np.array([1.0, 2.0, 3.0, 4.0]))
    >>> params["A"][0], params["b"]
    (array([[1., 2.],
           [2., 3.]]), array([4.]))
    >>> layout.penalised
    array([1., 1., 1., 0.])
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)
        names = [block.name for block in self.blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"Block names must be unique, got {names}.")
        self._slices = {}
        self._packings = {}
        self._item_floats = {}
        start = 0
        for block in self.blocks:
            self._slices[block.name] = slice(start, start + block.n_floats)
            self._item_floats[block.name] = block.floats_per_item
            if block.kind in ("symmetric", "hermitian"):
                self._packings[block.name] = block._packing
            start += block.n_floats
        self.n_params = start
        self.penalised = np.zeros(self.n_params)
        for block in self.blocks:
            if block.penalised:
                self.penalised[self._slices[block.name]] = 1.0

    def block_slice(self, name):
        """The slice of the vector that holds block ``name``."""
        return self._slices[name]

    def unpack(self, theta):
        """Dictionary ``name -> array`` of a parameter vector."""
        return {block.name: self._unpack_block(block, theta) for block in self.blocks}

    def _unpack_block(self, block, theta):
        floats = theta[self._slices[block.name]]
        if block.kind == "vector":
            return floats.reshape(block.shape).copy()
        if block.kind in ("symmetric", "hermitian"):
            matrices = self._packings[block.name].unpack(
                floats.reshape(-1, self._item_floats[block.name])
            )
            return matrices.reshape(block.shape)
        if block.kind == "real":
            return floats.reshape(block.shape).copy()
        real, imag = floats.reshape(2, *block.shape)
        return real + 1j * imag

    def pack(self, params):
        """Parameter vector of a dictionary ``name -> array`` (inverse of unpack).

        Symmetric and Hermitian matrices are read from their upper triangle.
        """
        theta = np.empty(self.n_params)
        for block in self.blocks:
            theta[self._slices[block.name]] = self._pack_block(
                block, params[block.name]
            )
        return theta

    def _pack_block(self, block, value):
        value = np.asarray(value)
        if block.kind in ("symmetric", "hermitian"):
            n = block.shape[-1]
            return self._packings[block.name].pack(value.reshape(-1, n, n)).ravel()
        if block.kind == "complex":
            return np.concatenate([value.real.ravel(), value.imag.ravel()])
        return np.asarray(value.real, dtype=np.float64).ravel()

    def pack_gradient(self, grads):
        """Gradient vector from per-block gradients (the adjoint of :meth:`unpack`).

        Parameters
        ----------
        grads : dict
            ``name -> array`` with each block's shape: :math:`\\bar G` such
            that :math:`dL = \\operatorname{Re}\\sum \\overline{\\bar G}\\, dA`
            over independent entries.  Matrix gradients of symmetric and
            Hermitian blocks need not be Hermitian.  A missing name means a
            zero gradient.

        Returns
        -------
        gradient : ndarray of shape (n_params,)
        """
        gradient = np.zeros(self.n_params)
        for block in self.blocks:
            grad = grads.get(block.name)
            if grad is None:
                continue
            where = self._slices[block.name]
            if block.kind in ("symmetric", "hermitian"):
                n = block.shape[-1]
                gradient[where] = (
                    self._packings[block.name]
                    .pack_gradient(grad.reshape(-1, n, n))
                    .ravel()
                )
            elif block.kind == "complex":
                gradient[where] = np.concatenate([grad.real.ravel(), grad.imag.ravel()])
            else:
                gradient[where] = np.real(grad).ravel()
        return gradient
