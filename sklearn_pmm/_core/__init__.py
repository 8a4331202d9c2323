# SPDX-License-Identifier: BSD-3-Clause
"""The math layer: pure functions and stateless objects, no estimator state.

- :mod:`.params`, :mod:`.hermitian`: named parameter blocks, their packing
  into one float64 vector and its adjoint.
- :mod:`.maps`, :mod:`.image`: primary-matrix maps ``x -> H(x)`` (affine,
  projected, Gram windows of images) with their vector-Jacobian products.
- :mod:`.eigh`: the batched LAPACK eigensolver, its broadened adjoint, and the
  chunk and thread policy.
- :mod:`.readout`, :mod:`.loss`: eigenpair selection, the readout registry and
  the data losses.
- :mod:`.model`: ``PMMModel``, a map, a readout and a loss composed into
  outputs and one loss-and-gradient call.

Nothing here imports from :mod:`sklearn_pmm._base` or
:mod:`sklearn_pmm._estimators`.
"""
