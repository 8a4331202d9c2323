# SPDX-License-Identifier: BSD-3-Clause
"""Parameter descriptions shared by the PMM estimators, written once.

Three estimators repeat most of their parameters; scikit-learn accepts such
repetition, but three copies drift apart.  :func:`fill_doc` substitutes the
``%(name)s`` fields of a docstring from :data:`SHARED`, in the manner of
imbalanced-learn's ``Substitution``.
"""

import inspect

SHARED = {
    "which": 'which : {"lowest", "highest", "largest_magnitude"} or int, '
    'default="lowest"\n'
    + r"""        Which eigenpairs are read out: the lowest eigenvalues (ascending), the
        highest (descending), the largest :math:`|\lambda|` (the paper's
        choice), or, for an integer ``k``, levels ``k`` to
        ``k + n_eigenvectors - 1`` counted from the lowest.  With
        ``readout="eigenvalues"`` it selects one level per output instead
        of ``n_eigenvectors``.  With
        ``"largest_magnitude"`` the outputs jump where two :math:`|\lambda|`
        cross.""",
    # The end of every estimator's n_decoders entry.
    "n_decoders_readouts": (
        r"""``readout="eigenvalues"`` has no decoders and ignores it.  With
        ``readout="expectation"`` an integer needs ``n_eigenvectors <
        matrix_size``: an observable summed over a whole eigenbasis is its
        trace, the same for every input."""
    ),
    "n_directions": r"""n_directions : int or None, default=None
        ``None`` gives every feature its own coupling matrix, :math:`H(x) =
        H_0 + \sum_l x_l H_l`.  An integer :math:`K \le p` learns :math:`K`
        directions :math:`W` (``K x n_features``) of the features instead,
        :math:`H(x) = H_0 + \sum_k (W x)_k B_k`: :math:`K (n_f + p)` floats
        for the couplings rather than :math:`p\, n_f` (:math:`n_f` floats per
        matrix), fewer when there are many features.  ``hamiltonians_``
        holds the equivalent :math:`H_l = \sum_k W_{kl} B_k` either way.""",
    "smoothness": r"""smoothness : float, default={smoothness}
        Strength :math:`\gamma` of the smoothness prior
        :math:`\frac{\gamma}{2}\sum_{l\ge1}\|H_l\|_F^2 / \|\tilde H_0\|_F^2`,
        the couplings relative to the spread of :math:`H_0`'s spectrum (the
        decoder readout does not change when every matrix is scaled, so only
        this ratio bounds how fast the outputs vary with :math:`x`).  With
        ``early_stopping`` it is the start of the path :math:`\gamma,
        \gamma/10, \gamma/100, 0` (see Notes); without, it is fixed.""",
    "optimisation": r"""max_iter : int, default=3000
        Maximum number of L-BFGS iterations (Adam epochs) per run; with
        ``early_stopping`` each stage of the smoothness path and the
        converged candidate has this budget.
    tol : float, default={tol}
        L-BFGS has converged when the largest gradient component is below
        ``tol`` or the training loss fell by less than 10 % over the last
        100 iterations; Adam when the epoch loss has not improved by ``tol``
        for ``n_iter_no_change`` epochs.
    n_restarts : int, default={n_restarts}
        Extra random starting points; the lowest validation loss (training
        loss without ``early_stopping``; a committee member's loss on its
        fold) wins.  {restarts_why}
    early_stopping : bool, default={early_stopping}
        Hold out ``validation_fraction`` of the training rows and
        choose the model on them, as described in Notes.  Data too small to
        split (fewer than 2 rows either side) are fitted whole.
    validation_fraction : float, default=0.1
        Fraction of the training rows held out for ``early_stopping``,
        stratified by class for classifiers.
    n_iter_no_change : int, default=10
        Iterations (epochs) without a relative improvement of ``1e-4`` of
        the validation loss that end a stage of early stopping, and epochs
        without improvement that end Adam.
    solver : {"lbfgs", "adam"}, default="lbfgs"
        Full-batch L-BFGS, or Adam on mini-batches for large data.
    batch_size : int or "auto", default="auto"
        Adam's mini-batch size; ``"auto"`` is ``min(200, n_samples)``.  (The
        eigensolves run in chunks sized by scikit-learn's
        ``working_memory``, not by this.)
    learning_rate_init : float, default=1e-3
        Adam's step size.  A fit that ends with a higher loss than it
        started from warns that it is too large.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    shuffle : bool, default=True
        Shuffle the rows before every Adam epoch; ``False`` takes them in the
        order given.
    n_jobs : int, default=None
        Threads for the chunks of eigensolves (runs of consecutive chunks, at
        most one thread per 256 rows, so from 512 training rows) and for
        restarts.
        ``None`` means 1 unless in a :obj:`joblib.parallel_config` context;
        ``-1`` means all processors.  Results do not depend on ``n_jobs``.
        See :term:`Glossary <n_jobs>`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial matrices, the validation split and Adam's
        shuffling.  Pass an int for reproducible results across calls.  See
        :term:`Glossary <random_state>`.
    warm_start : bool, default=False
        Continue from the fitted matrices of the previous call to ``fit``.
        If a parameter that sets the matrices' shapes (such as
        ``matrix_size``, or ``n_eigenvectors`` except with
        ``readout="eigenvalues"``) has changed since, nothing can be reused
        and the fit starts afresh; so does a regressor whose
        number of outputs changed.  A classifier's classes must not change.
    verbose : int, default=0
        Print the loss and elapsed time at every iteration (epoch), and with
        L-BFGS the gradient norm.""",
    "fit_attributes": r"""n_iter_ : int
        Solver iterations (epochs) of the retained run, over all its stages
        (and, for a converged candidate chosen on the validation split, its
        continuation on every row).  After
        ``partial_fit``, its epochs since the last ``fit``, whose solver
        iterations are not counted.
    loss_ : float
        Training loss (internal units) at the last iteration of the retained
        run.  With ``early_stopping`` the kept parameters may be an earlier
        iteration's, those of the lowest validation loss.
    loss_curve_ : list of float
        Training loss after each iteration of the retained run (after
        ``partial_fit``, after each of its epochs).
    validation_scores_ : list of float or None
        With ``early_stopping``, the validation score (R² or accuracy) after
        every iteration of the smoothness path, then that of the converged
        candidate where it ended or was abandoned; for a committee's member
        without it, the one score on its fold; ``None`` otherwise.
    best_validation_score_ : float or None
        The validation score of the retained parameters (of a converged
        candidate, its score before it continued on every row), or a
        committee member's score on its fold; ``None`` otherwise.
    n_params_ : int
        Number of trainable real floats.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.""",
    "fitting_notes": r"""With L-BFGS, training rows with equal features and targets are
    merged into one row whose weight is the sum of theirs (zero weights
    dropped, rows sorted), so integer sample weights and repeated rows, or
    the same rows in any order, give the same model bit for bit.  Adam takes
    the rows as given (zero weights dropped), in their order if ``shuffle``
    is ``False``.

    With ``early_stopping`` two candidates are fitted from the
    same start on the rows that are not held out, and the lower validation
    loss wins:

    - the *smooth* candidate follows the path :math:`\gamma, \gamma/10,
      \gamma/100, 0` of ``smoothness``, each stage until the validation loss
      has not improved for ``n_iter_no_change`` iterations, keeping the best
      parameters met;
    - the *converged* candidate is the unpenalised fit run to convergence,
      or abandoned once its lowest validation loss so far is no lower than
      the smooth candidate's and has not fallen for 50 iterations (or
      ``n_iter_no_change``, if larger).

    Noisy data favour the first, exactly representable functions (such as
    the paper's noiseless benchmark) the second.  Once chosen, a converged
    candidate, which does not depend on the held-out rows, continues on
    every row (training and held-out) until it converges again (L-BFGS
    only); until then it stops sooner, when its loss fell by less than 10 %
    over {screening_window} iterations rather than 100.  The members of
    :class:`PMMRegressorCV` and :class:`PMMClassifierCV` do not continue:
    their folds stay out-of-fold.

    A feature that is constant over the rows the final parameters were
    fitted on gets no couplings (its :math:`H_l`, or its column of the
    projection, is zero), so that a value it takes only at prediction time,
    such as a category absent from the training fold, does not move the
    predictions.""",
    "committee_parameters": """n_estimators : int, default=5
        Number ``K`` of members.  The rows (after merging duplicates, so that
        integer sample weights equal repeated rows) are split into ``F``
        folds, stratified by class for classifiers; with fewer than ``2 F``
        distinct rows the members train on all rows and stop without a
        validation split.
    n_jobs : int or None, default=None
        Number of members fitted at once, in threads.  ``None`` means 1
        unless in a :obj:`joblib.parallel_config` context; ``-1`` means all
        processors.  The members, and so the committee, do not depend on
        it.
    random_state : int, RandomState instance or None, default=None
        Draws the folds and the members' random states.  ``None`` means the
        ``random_state`` of ``estimator``, so that a seeded member seeds the
        committee; with both ``None`` every fit differs.  See
        :term:`Glossary <random_state>`.""",
    "committee_attributes": """estimators_ : list of {kind}
        The ``K`` fitted members; member ``k`` held out fold ``k`` (and,
        with ``early_stopping``, stopped early on it).
    cv_scores_ : ndarray of shape (n_estimators,)
        Each member's best validation score ({score}) on its own held-out
        fold (NaN for a member fitted without a split).  The member did not
        train on that fold, but with ``early_stopping`` or restarts the fold
        also chose its stopping point or its start, so the score is
        optimistic, and it is one member's, not the committee's.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, defined only when ``X`` has
        feature names that are all strings.""",
}


def _format_default(value):
    """A default as the docstrings write it: ``1e-6``, not ``1e-06``."""
    return repr(value).replace("e-0", "e-") if isinstance(value, float) else str(value)


def fill_doc(**specific):
    """Fill the ``%(name)s`` fields of a class docstring from :data:`SHARED`.

    The ``{name}`` fields inside the shared texts take the class's own
    default for parameter ``name`` (read from its signature, so that the
    documented default cannot drift from the real one), or a ``specific``
    value.

    Examples
    --------
    >>> from sklearn_pmm._base.docstrings import fill_doc
    >>> @fill_doc(restarts_why="")
    ... class Example:
    ...     '''Parameters
    ...     ----------
    ...     %(optimisation)s
    ...     '''
    ...     def __init__(self, tol=1e-6):
    ...         self.tol = tol
    >>> "tol : float, default=1e-6" in Example.__doc__
    True
    """

    def decorate(cls):
        fields = {
            name: _format_default(parameter.default)
            for name, parameter in inspect.signature(cls).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        fields.update(specific)
        doc = cls.__doc__
        for name, text in SHARED.items():
            for key, value in fields.items():
                text = text.replace("{" + key + "}", str(value))
            doc = doc.replace(f"%({name})s", text)
        cls.__doc__ = doc
        return cls

    return decorate
