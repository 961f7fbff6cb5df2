"""scikit-learn's own metric invariance rules (``sklearn/metrics/tests/test_common.py``)
as hypothesis properties over every functional metric longtail re-implements, with
scikit-learn / imbalanced-learn as the oracle.

Every property transforms a problem (reorders samples, permutes or renames the
classes, reweights, repeats or drops rows, changes the container) and asserts, for
every metric variant that applies:

* oracle: longtail(transformed) == peer(transformed): same value to 1e-12 (NaN where
  NaN), same dtype / Python type, same warning categories, or an exception of the same
  kind (ValueError / TypeError / ... membership, so scikit-learn's
  ``InvalidParameterError``, both a ValueError and a TypeError, must be matched by one
  that is both);
* invariance: longtail(transformed) equals longtail(original), transformed as the rule
  says (a per-class array permuted with the classes, ...), whenever both succeed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.metrics as skm
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from imblearn.metrics import geometric_mean_score as imb_gmean

import longtail.metrics as lm
from longtail.metrics._classification import fbeta_score

TOL = 1e-12
# No shrinking: every example runs ~70 metric variants twice, so shrinking a failure
# would take minutes; the problems are small enough to read unshrunk.
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
FEW = settings(SETTINGS, max_examples=4)  # the properties that try many inputs per example
ERRORS = (
    ValueError, TypeError, ZeroDivisionError, IndexError, NotImplementedError, AttributeError
)
# What the peers raise when they crash in their own arithmetic, not when they validate.
CRASHES = (IndexError, AttributeError)


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class Case:
    """One metric variant: longtail function, its peer, fixed keyword arguments.

    inp: "pred" (y_pred labels), "s1" (1-D binary scores), "proba" (n x C rows summing
    to 1) or "ml" (n x L multilabel scores). perm: how the result follows a permutation
    of the classes: "inv" (unchanged), "vec" (a per-class array, permuted), "mat" (a
    class x class matrix), "no" (no rule).
    """

    name: str
    ours: Callable
    ref: Callable
    kw: dict = field(default_factory=dict)
    inp: str = "pred"
    kinds: frozenset = frozenset({"binary", "multiclass", "multilabel"})
    weights: bool = True
    scale_dep: bool = False
    perm: str = "inv"
    symmetric: bool = False
    # imbalanced-learn's sensitivity / specificity count the negatives as the unweighted
    # n - (pred + true - tp), so its weighted results are neither those of repeated rows
    # nor invariant under scaling.
    weight_inv: bool = True


BM = frozenset({"binary", "multiclass"})
B = frozenset({"binary"})
M = frozenset({"multiclass"})
ML = frozenset({"multilabel"})
ALL = frozenset({"binary", "multiclass", "multilabel"})


def _pred_cases() -> list:
    cases = [
        Case("confusion_matrix", lm.confusion_matrix, skm.confusion_matrix, kinds=ALL,
             scale_dep=True, perm="mat"),
        Case("balanced_accuracy", lm.balanced_accuracy_score, skm.balanced_accuracy_score),
        Case("adjusted_balanced_accuracy", lm.balanced_accuracy_score,
             skm.balanced_accuracy_score, {"adjusted": True}),
        Case("cohen_kappa", lm.cohen_kappa_score, skm.cohen_kappa_score, symmetric=True),
        Case("matthews", lm.matthews_corrcoef, skm.matthews_corrcoef, symmetric=True),
        Case("prfs_none", lm.precision_recall_fscore_support,
             skm.precision_recall_fscore_support, {"average": None, "zero_division": 0},
             scale_dep=True, perm="vec"),
        Case("prfs_binary", lm.precision_recall_fscore_support,
             skm.precision_recall_fscore_support, {"average": "binary"}, perm="no"),
        Case("gmean", lm.geometric_mean_score, imb_gmean),
        Case("gmean_corrected", lm.geometric_mean_score, imb_gmean, {"correction": 0.001}),
        Case("gmean_none", lm.geometric_mean_score, imb_gmean, {"average": None}, perm="vec",
             weight_inv=False),
        Case("gmean_binary", lm.geometric_mean_score, imb_gmean, {"average": "binary"},
             perm="no", weight_inv=False),
    ]
    for norm in ("true", "pred", "all"):
        cases.append(Case(f"confusion_matrix_{norm}", lm.confusion_matrix,
                          skm.confusion_matrix, {"normalize": norm}, perm="mat"))
    for weights in ("linear", "quadratic"):
        cases.append(Case(f"cohen_kappa_{weights}", lm.cohen_kappa_score,
                          skm.cohen_kappa_score, {"weights": weights}, perm="no",
                          symmetric=True))
    for avg in ("macro", "weighted", "micro"):
        cases.append(Case(f"prfs_{avg}", lm.precision_recall_fscore_support,
                          skm.precision_recall_fscore_support, {"average": avg}))
        cases.append(Case(f"gmean_{avg}", lm.geometric_mean_score, imb_gmean,
                          {"average": avg}, weight_inv=False))
    cases.append(Case("prfs_samples", lm.precision_recall_fscore_support,
                      skm.precision_recall_fscore_support, {"average": "samples"}))
    fns = {
        "f1": (lm.f1_score, skm.f1_score, {}),
        "f0.5": (fbeta_score, skm.fbeta_score, {"beta": 0.5}),
        "precision": (lm.precision_score, skm.precision_score, {}),
        "recall": (lm.recall_score, skm.recall_score, {}),
    }
    for fname, (ours, ref, kw) in fns.items():
        for avg in ("binary", None, "macro", "weighted", "micro", "samples"):
            perm = "no" if avg == "binary" else ("vec" if avg is None else "inv")
            sym = fname == "f1" and avg in ("binary", None, "macro", "micro")
            kw2 = {**kw, "average": avg, "zero_division": 0}
            if avg == "binary":
                kw2.pop("average")
            cases.append(Case(f"{fname}_{avg}", ours, ref, kw2, perm=perm, symmetric=sym))
    return cases


def _score_cases() -> list:
    ras, aps = (lm.roc_auc_score, skm.roc_auc_score), (
        lm.average_precision_score,
        skm.average_precision_score,
    )
    tk = (lm.top_k_accuracy_score, skm.top_k_accuracy_score)
    cases = [
        Case("roc_auc", *ras, inp="s1", kinds=B, perm="no"),
        Case("roc_auc_max_fpr", *ras, {"max_fpr": 0.5}, inp="s1", kinds=B, perm="no"),
        Case("average_precision", *aps, inp="s1", kinds=B, perm="no"),
        Case("average_precision_pos0", *aps, {"pos_label": 0}, inp="s1", kinds=B, perm="no"),
        Case("roc_curve", lm.roc_curve, skm.roc_curve, inp="s1", kinds=B, perm="no"),
        Case("roc_curve_all", lm.roc_curve, skm.roc_curve, {"drop_intermediate": False},
             inp="s1", kinds=B, perm="no"),
        Case("pr_curve", lm.precision_recall_curve, skm.precision_recall_curve, inp="s1",
             kinds=B, perm="no"),
        Case("pr_curve_drop", lm.precision_recall_curve, skm.precision_recall_curve,
             {"drop_intermediate": True}, inp="s1", kinds=B, perm="no"),
        Case("top_k_binary", *tk, {"k": 1}, inp="s1", kinds=B, perm="no"),
        Case("top_k_binary_count", *tk, {"k": 1, "normalize": False}, inp="s1", kinds=B,
             perm="no", scale_dep=True),
        Case("ovo_macro", *ras, {"multi_class": "ovo"}, inp="proba", kinds=M, weights=False),
        Case("ovo_weighted", *ras, {"multi_class": "ovo", "average": "weighted"},
             inp="proba", kinds=M, weights=False),
        Case("top_k_1", *tk, {"k": 1}, inp="proba", kinds=M),
        Case("top_k_2", *tk, {"k": 2}, inp="proba", kinds=M),
        Case("top_k_2_count", *tk, {"k": 2, "normalize": False}, inp="proba", kinds=M,
             scale_dep=True),
    ]
    for avg in ("macro", "weighted", "micro", None):
        perm = "vec" if avg is None else "inv"
        cases.append(Case(f"ovr_{avg}", *ras, {"multi_class": "ovr", "average": avg},
                          inp="proba", kinds=M, perm=perm))
        cases.append(Case(f"ap_multiclass_{avg}", *aps, {"average": avg}, inp="proba",
                          kinds=M, perm=perm))
    for avg in ("macro", "weighted", "micro", "samples", None):
        perm = "vec" if avg is None else "inv"
        cases.append(Case(f"roc_auc_ml_{avg}", *ras, {"average": avg}, inp="ml", kinds=ML,
                          perm=perm))
        cases.append(Case(f"ap_ml_{avg}", *aps, {"average": avg}, inp="ml", kinds=ML,
                          perm=perm))
    return cases


CASES = _pred_cases() + _score_cases()


def test_every_metric_is_covered():
    """The registry names every functional metric longtail re-implements."""
    covered = {c.ours.__name__ for c in CASES}
    functional = {
        "roc_auc_score", "roc_curve", "average_precision_score", "precision_recall_curve",
        "confusion_matrix", "balanced_accuracy_score", "precision_recall_fscore_support",
        "f1_score", "fbeta_score", "precision_score", "recall_score", "cohen_kappa_score",
        "matthews_corrcoef", "top_k_accuracy_score", "geometric_mean_score",
    }
    assert functional <= covered, functional - covered
    assert functional - {"fbeta_score"} <= set(lm.__all__)


# ------------------------------------------------------------------------------ outcomes


@dataclass
class Out:
    value: Any = None
    error: Optional[BaseException] = None
    warns: tuple = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def call(fn: Callable, *args: Any, **kw: Any) -> Out:
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            value = fn(*args, **kw)
        except ERRORS as e:
            return Out(error=e)
    # DeprecationWarnings are numpy / torch interplay noise (np.dot of a tensor), not
    # the metric's behaviour.
    names = {w.category.__name__ for w in ws if not issubclass(w.category, DeprecationWarning)}
    return Out(value=value, warns=tuple(sorted(names)))


def _close(a: Any, b: Any, what: str, *, strict: bool, tol: float = TOL) -> None:
    """``a`` equals ``b`` to TOL; with ``strict`` also the same dtype / Python type."""
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b), f"{what}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{what}[{i}]", strict=strict, tol=tol)
        return
    if b is None:
        assert a is None, f"{what}: {a!r} vs None"
        return
    if strict:
        if isinstance(b, np.ndarray):
            assert isinstance(a, np.ndarray), f"{what}: {type(a)} vs ndarray"
            assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs {b.dtype}"
        else:
            assert type(a) is type(b), f"{what}: type {type(a)} vs {type(b)} ({a!r}, {b!r})"
    fa, fb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert fa.shape == fb.shape, f"{what}: shape {fa.shape} vs {fb.shape}"
    nan_a, nan_b = np.isnan(fa), np.isnan(fb)
    assert np.array_equal(nan_a, nan_b), f"{what}: NaN at different places: {a!r} vs {b!r}"
    np.testing.assert_allclose(fa[~nan_a], fb[~nan_b], rtol=tol, atol=TOL, err_msg=what)


def _same_error(a: BaseException, b: BaseException, what: str) -> None:
    for kind in ERRORS:
        assert isinstance(a, kind) == isinstance(b, kind), (
            f"{what}: longtail raised {type(a).__name__}({a}), peer {type(b).__name__}({b})"
        )


def _deviation(case: Case, args: tuple, kw: dict, ours: Out, ref: Out) -> bool:
    """The documented, deliberate departures from the peer (each checked, not skipped):
    True when ``ours`` is the accepted answer where the peer's differs."""
    w = kw.get("sample_weight")
    # The peer crashes (IndexError / AttributeError) inside its own arithmetic: on input
    # it never validated (imbalanced-learn's multiclass gmean with a short
    # sample_weight), where longtail's validation names the argument with a ValueError,
    # or on valid input (scikit-learn's one-vs-one ROC AUC of a column y_true, its
    # multiclass average precision of a list y_score), where longtail answers as for
    # the array / 1-D input (test_format_invariance checks that answer).
    if isinstance(ref.error, CRASHES) and (ours.ok or isinstance(ours.error, ValueError)):
        return True
    # imbalanced-learn's multiclass gmean of empty input is NaN (scipy's
    # SmallSampleWarning); empty input is a ValueError everywhere in longtail (DESIGN.md).
    if (
        case.ref is imb_gmean
        and kw.get("average", "multiclass") == "multiclass"
        and isinstance(args[0], np.ndarray)
        and args[0].size == 0
        and isinstance(ours.error, ValueError)
    ):
        return True
    # Unorderable object labels ([0, None, 1]): scikit-learn's average_precision_score
    # reaches np.unique (TypeError) where its other metrics call the target "unknown"
    # (ValueError); longtail refuses the unknown target in every metric alike.
    if (
        case.ours is lm.average_precision_score
        and isinstance(ref.error, TypeError)
        and isinstance(ours.error, ValueError)
        and "unknown" in str(ours.error)
    ):
        return True
    # scikit-learn's top_k_accuracy_score(normalize=False) with bool weights computes
    # np.dot(bool_hits, bool_weights), a logical "or" (1.0); longtail sums the weights,
    # i.e. the peer's answer for the same weights as floats.
    if (
        case.ours is lm.top_k_accuracy_score
        and w is not None
        and np.asarray(w).dtype == bool
        and ours.ok
    ):
        as_float = call(case.ref, *args, **{**kw, "sample_weight": np.asarray(w, float)})
        _close(ours.value, as_float.value, f"{case.name} bool weights", strict=True)
        return True
    return False


def oracle(case: Case, *args: Any, **kw: Any) -> Out:
    """Run longtail and the peer on the same input; assert they agree; longtail's Out."""
    kw = {**case.kw, **kw}
    ours, ref = call(case.ours, *args, **kw), call(case.ref, *args, **kw)
    what = f"{case.name} {kw}"
    if _deviation(case, args, kw, ours, ref):
        return ours
    if ref.error is not None or ours.error is not None:
        assert ours.error is not None and ref.error is not None, (
            f"{what}: longtail {'raised ' + repr(ours.error) if ours.error else 'returned'}"
            f", peer {'raised ' + repr(ref.error) if ref.error else 'returned'}"
        )
        _same_error(ours.error, ref.error, what)
        return ours
    # float32 weights: scikit-learn forms some averaging weights in float32 (the
    # "weighted" average of the ranking metrics); longtail widens them to float64.
    f32 = getattr(kw.get("sample_weight"), "dtype", None) == np.float32
    _close(ours.value, ref.value, what, strict=True, tol=1e-6 if f32 else TOL)
    assert ours.warns == ref.warns, f"{what}: warnings {ours.warns} vs {ref.warns}"
    return ours


def invariant(a: Out, b: Out, what: str, *, transform: Callable = lambda v: v) -> None:
    """``b`` equals ``transform(a)`` when both calls succeeded."""
    if a.ok and b.ok:
        _close(b.value, _map(a.value, transform), what, strict=False)


def _map(value: Any, fn: Callable) -> Any:
    if isinstance(value, tuple):
        return tuple(None if v is None else fn(np.asarray(v)) for v in value)
    return fn(np.asarray(value)) if isinstance(value, np.ndarray) else value


# ------------------------------------------------------------------------------ problems


@dataclass
class Problem:
    kind: str
    yt: np.ndarray
    yp: np.ndarray
    s1: np.ndarray
    proba: np.ndarray
    ml: np.ndarray
    w: np.ndarray  # non-negative integer weights, at least one positive

    @property
    def n(self) -> int:
        return self.yt.shape[0]

    def second(self, case: Case) -> np.ndarray:
        return {"pred": self.yp, "s1": self.s1, "proba": self.proba, "ml": self.ml}[case.inp]

    def rows(self, idx: np.ndarray) -> "Problem":
        return Problem(self.kind, self.yt[idx], self.yp[idx], self.s1[idx], self.proba[idx],
                       self.ml[idx], self.w[idx])


@st.composite
def problems(draw, kinds=("binary", "multiclass", "multilabel")) -> Problem:
    kind = draw(st.sampled_from(kinds))
    n = draw(st.integers(2, 24))
    c = 2 if kind == "binary" else draw(st.integers(3, 4))
    ints = partial(st.lists, min_size=n, max_size=n)
    if kind == "multilabel":
        n_lab = draw(st.integers(2, 4))
        yt = np.array(draw(ints(st.lists(st.integers(0, 1), min_size=n_lab, max_size=n_lab))))
        yp = np.array(draw(ints(st.lists(st.integers(0, 1), min_size=n_lab, max_size=n_lab))))
        c = n_lab
    else:
        yt = np.array(draw(ints(st.integers(0, c - 1))))
        if n >= c and draw(st.booleans()):
            yt[:c] = np.arange(c)  # every class present (most metrics need it)
        # y_pred may hold a class y_true lacks (c) on multiclass problems
        yp = np.array(draw(ints(st.integers(0, c if kind == "multiclass" else c - 1))))
    grid = st.integers(0, 4)  # few distinct scores: many ties
    s1 = np.array(draw(ints(grid)), dtype=np.float64) / 4
    raw = np.array(draw(ints(st.lists(st.integers(1, 4), min_size=c, max_size=c))), float)
    proba = raw / raw.sum(axis=1, keepdims=True)
    ml = np.array(draw(ints(st.lists(grid, min_size=c, max_size=c))), dtype=np.float64) / 4
    w = np.array(draw(ints(st.integers(0, 3))), dtype=np.int64)
    w[draw(st.integers(0, n - 1))] += 1
    return Problem(kind, yt, yp, s1, proba, ml, w)


def cases_for(p: Problem, *, weighted: bool = False) -> list:
    return [c for c in CASES if p.kind in c.kinds and (c.weights or not weighted)]


# ------------------------------------------------------------------------------ properties


@SETTINGS
@given(problems(), st.data(), st.booleans())
def test_sample_order_invariance(p, data, weighted):
    """test_sample_order_invariance: shuffling the rows (and their weights) changes
    nothing."""
    perm = np.array(data.draw(st.permutations(range(p.n))))
    q = p.rows(perm)
    for case in cases_for(p, weighted=weighted):
        kw_a = {"sample_weight": p.w} if weighted else {}
        kw_b = {"sample_weight": q.w} if weighted else {}
        a = oracle(case, p.yt, p.second(case), **kw_a)
        b = oracle(case, q.yt, q.second(case), **kw_b)
        invariant(a, b, f"{case.name}: sample order")


def _row_ties(s: np.ndarray) -> bool:
    srt = np.sort(s, axis=1)
    return bool(np.any(srt[:, 1:] == srt[:, :-1]))


def _present(*ys: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([np.ravel(y) for y in ys]))


@SETTINGS
@given(problems(("binary", "multiclass")), st.data())
def test_label_permutation_invariance(p, data):
    """test_continuous_metric_permutation_invariance (and its label analogue):
    renaming the classes by a permutation permutes per-class results and leaves averaged
    ones unchanged."""
    c = p.proba.shape[1]
    pi = np.array(data.draw(st.permutations(range(c))))
    full = np.concatenate([pi, np.arange(c, c + 2)])  # the extra y_pred class stays
    yt2, yp2 = full[p.yt], full[p.yp]
    proba2 = np.empty_like(p.proba)
    proba2[:, pi] = p.proba  # class pi[i] keeps the column of class i
    present = _present(p.yt, p.yp)
    present2 = _present(yt2, yp2)
    # position of each original class's result in the permuted result
    where = np.searchsorted(present2, full[present])
    for case in cases_for(p):
        second2 = {"pred": yp2, "proba": proba2}.get(case.inp)
        if second2 is None:
            continue
        a = oracle(case, p.yt, p.second(case))
        b = oracle(case, yt2, second2)
        if case.ours is lm.top_k_accuracy_score and _row_ties(p.proba):
            continue  # ties are broken by column order, which the permutation changes
        if case.perm == "inv":
            invariant(a, b, f"{case.name}: label permutation")
        elif case.perm == "vec" and case.inp == "pred":

            def vec(v, where=where):
                out = np.empty_like(v)
                out[where] = v
                return out

            invariant(a, b, f"{case.name}: label permutation", transform=vec)
        elif case.perm == "vec":  # one-vs-rest: one entry per column of y_score

            def cols(v):
                out = np.empty_like(v)
                out[pi] = v
                return out

            invariant(a, b, f"{case.name}: label permutation", transform=cols)
        elif case.perm == "mat":

            def mat(m, where=where):
                out = np.empty_like(m)
                out[np.ix_(where, where)] = m
                return out

            invariant(a, b, f"{case.name}: label permutation", transform=mat)


@SETTINGS
@given(problems(("multilabel",)), st.data())
def test_multilabel_column_permutation_invariance(p, data):
    """test_multilabel_label_permutations_invariance: permuting the label columns of
    y_true, y_pred and y_score permutes per-label results, leaves averages unchanged."""
    perm = np.array(data.draw(st.permutations(range(p.yt.shape[1]))))
    q = Problem(p.kind, p.yt[:, perm], p.yp[:, perm], p.s1, p.proba, p.ml[:, perm], p.w)
    for case in cases_for(p):
        a = oracle(case, p.yt, p.second(case))
        b = oracle(case, q.yt, q.second(case))
        if case.perm == "inv":
            invariant(a, b, f"{case.name}: column permutation")
        elif case.perm == "vec":
            invariant(a, b, f"{case.name}: column permutation", transform=lambda v: v[perm])


@FEW
@given(problems(), st.data())
def test_sample_weight_invariance(p, data):
    """check_sample_weight_invariance: ones == None, list == array, integer weights ==
    repeated rows, zero weight == removed row, scaling by 2 or 0.3 changes nothing."""
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=p.n, max_size=p.n)))
    keep[int(np.argmax(p.w))] = True
    zeroed = np.where(keep, p.w, 0)
    rep = np.repeat(np.arange(p.n), p.w)
    sub = np.flatnonzero(keep)
    for case in cases_for(p, weighted=True):
        second = p.second(case)
        none = oracle(case, p.yt, second)
        ones = oracle(case, p.yt, second, sample_weight=np.ones(p.n))
        invariant(none, ones, f"{case.name}: ones vs None")
        weighted = oracle(case, p.yt, second, sample_weight=p.w)
        as_list = oracle(case, p.yt, second, sample_weight=p.w.tolist())
        invariant(weighted, as_list, f"{case.name}: list weights")
        invariant(weighted, oracle(case, p.yt, second, sample_weight=torch.from_numpy(p.w)),
                  f"{case.name}: tensor weights")
        same_labels = case.inp != "pred" or np.array_equal(
            _present(p.yt[rep], p.yp[rep]), _present(p.yt, p.yp)
        )
        repeated = oracle(case, p.yt[rep], second[rep])
        if same_labels and case.weight_inv:
            invariant(weighted, repeated, f"{case.name}: integer weights vs repetition")
        on_subset = oracle(case, p.yt[sub], second[sub], sample_weight=p.w[sub])
        on_zeroed = oracle(case, p.yt, second, sample_weight=zeroed)
        same_sub = case.inp != "pred" or np.array_equal(
            _present(p.yt[sub], p.yp[sub]), _present(p.yt, p.yp)
        )
        if same_sub and case.weight_inv:
            invariant(on_subset, on_zeroed, f"{case.name}: zero weights vs removed rows")
        if not case.scale_dep and case.weight_inv:
            for scale in (2, 0.3) if case.name != "roc_curve" else (2,):
                scaled = oracle(case, p.yt, second, sample_weight=p.w * scale)
                invariant(weighted, scaled, f"{case.name}: weights x {scale}")


def _columns(y: np.ndarray) -> list:
    return [y.reshape(-1, 1), y.tolist(), torch.from_numpy(y), y.astype(np.int8),
            y.astype(np.uint8), y.astype(np.float64), y.astype(np.int32)]


@FEW
@given(problems())
def test_format_invariance(p):
    """test_format_invariance_with_1d_vectors / test_multilabel_representation_invariance:
    lists, columns, tensors, other integer / float dtypes and, for multilabel
    indicators, lists of lists and every scipy.sparse format give the same result; a row
    vector is refused as by the peer."""
    sparse = [sp.csr_matrix, sp.coo_array]  # every format: test_sparse_formats
    for case in cases_for(p):
        second = p.second(case)
        base = oracle(case, p.yt, second)
        if p.kind == "multilabel":
            variants = [(p.yt.tolist(), second.tolist() if case.inp == "pred" else second),
                        (list(p.yt), list(second) if case.inp == "pred" else second),
                        (torch.from_numpy(p.yt), second)]
            for make in sparse:
                yp2 = make(second) if case.inp == "pred" else second
                variants.append((make(p.yt), yp2))
        else:
            variants = [(yt2, second) for yt2 in _columns(p.yt)]
            if case.inp == "pred":
                variants += [(p.yt, yp2) for yp2 in _columns(p.yp)]
                variants.append((p.yt.reshape(1, -1), p.yp))
                variants.append((p.yt, p.yp.reshape(1, -1)))
            else:
                variants.append((p.yt, second.tolist()))
                variants.append((p.yt, torch.from_numpy(second)))
        for yt2, second2 in variants:
            out = oracle(case, yt2, second2)
            invariant(base, out, f"{case.name}: format {type(yt2).__name__}")


@pytest.mark.parametrize(
    "make",
    [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.lil_matrix, sp.dok_matrix, sp.bsr_matrix,
     sp.dia_matrix, sp.csr_array, sp.csc_array, sp.coo_array],
)
def test_sparse_formats(make):
    """Every scipy.sparse format scikit-learn accepts for a multilabel indicator (the
    precision / recall / F family), refused like the peer by every other metric."""
    rng = np.random.default_rng(3)
    yt, yp = rng.integers(0, 2, (15, 4)), rng.integers(0, 2, (15, 4))
    w = rng.integers(0, 3, 15)
    p = Problem("multilabel", yt, yp, rng.random(15), np.full((15, 4), 0.25),
                rng.random((15, 4)), w)
    for case in cases_for(p):
        second = p.second(case)
        dense = oracle(case, yt, second, sample_weight=w)
        sparse = oracle(case, make(yt), make(second) if case.inp == "pred" else second,
                        sample_weight=w)
        invariant(dense, sparse, f"{case.name}: {make.__name__}")
        if case.ours in (lm.f1_score, lm.precision_score, lm.recall_score) and (
            "average" in case.kw
        ):
            assert sparse.ok, (case.name, sparse.error)


_NAMES = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])


_DEFAULT_AVERAGE = {"f1_score": "binary", "fbeta_score": "binary", "precision_score": "binary",
                    "recall_score": "binary", "geometric_mean_score": "multiclass"}


def _needs_pos_label(case: Case) -> bool:
    """Whether the metric uses pos_label for this variant (binary averaging or a
    binary ranking metric), so that string labels need it renamed too."""
    if "pos_label" not in _sig(case.ours):
        return False
    if case.inp == "s1":
        return True
    return case.kw.get("average", _DEFAULT_AVERAGE.get(case.ours.__name__)) == "binary"


@FEW
@given(problems(("binary", "multiclass")))
def test_string_vs_number_labels(p):
    """test_classification_invariance_string_vs_numbers_labels: the same problem with
    string labels (fixed-width and object arrays; pos_label renamed alike) gives the
    same result."""
    for case in cases_for(p):
        base = oracle(case, p.yt, p.second(case))
        kw = {"pos_label": _NAMES[case.kw.get("pos_label", 1)]} if _needs_pos_label(case) else {}
        for dtype in (str, object):
            yt2 = _NAMES[p.yt].astype(dtype)
            second = _NAMES[p.yp].astype(dtype) if case.inp == "pred" else p.second(case)
            out = oracle(case, yt2, second, **kw)
            invariant(base, out, f"{case.name}: string labels ({dtype.__name__})")


def _sig(fn: Callable) -> set:
    import inspect

    return set(inspect.signature(fn).parameters)


@SETTINGS
@given(problems(("multiclass", "multilabel")))
def test_averaging_is_binary_per_class(p):
    """check_averaging: average=None is the binary metric of each binarised class,
    "micro" the binary metric of the raveled indicators, "macro" their mean and
    "weighted" their support-weighted mean."""
    if p.kind == "multilabel":
        t_bin, p_bin, s = p.yt, p.yp, p.ml
    else:
        classes = np.arange(p.proba.shape[1])
        if not np.array_equal(_present(p.yt, p.yp), classes):
            return
        t_bin = (p.yt[:, None] == classes).astype(int)
        p_bin = (p.yp[:, None] == classes).astype(int)
        s = p.proba
    support = t_bin.sum(axis=0)
    pairs = [(lm.f1_score, {}), (lm.precision_score, {}), (lm.recall_score, {}),
             (fbeta_score, {"beta": 0.5})]
    for fn, kw in pairs:
        case = Case(fn.__name__, fn, getattr(skm, fn.__name__), {**kw, "zero_division": 0})
        per = [oracle(case, t_bin[:, j], p_bin[:, j]) for j in range(t_bin.shape[1])]
        if not all(o.ok for o in per):
            continue
        per_class = np.array([o.value for o in per])
        invariant(Out(per_class), oracle(case, p.yt, p.yp, average=None), f"{fn.__name__} None")
        invariant(Out(float(per_class.mean())), oracle(case, p.yt, p.yp, average="macro"),
                  f"{fn.__name__} macro")
        micro = oracle(case, t_bin.ravel(), p_bin.ravel())
        invariant(micro, oracle(case, p.yt, p.yp, average="micro"), f"{fn.__name__} micro")
        weighted = float(np.average(per_class, weights=support)) if support.sum() else 0.0
        invariant(Out(weighted), oracle(case, p.yt, p.yp, average="weighted"),
                  f"{fn.__name__} weighted")
    # the ranking metrics: per class / micro on the indicators
    ras = Case("roc_auc", lm.roc_auc_score, skm.roc_auc_score)
    aps = Case("average_precision", lm.average_precision_score, skm.average_precision_score)
    extra = {} if p.kind == "multilabel" else {"multi_class": "ovr"}
    for case in (ras, aps):
        kw = extra if case is ras else {}
        per = [oracle(case, t_bin[:, j], s[:, j]) for j in range(t_bin.shape[1])]
        if not all(o.ok for o in per) or any(np.isnan(o.value) for o in per):
            continue
        per_class = np.array([o.value for o in per])
        invariant(Out(per_class), oracle(case, p.yt, s, average=None, **kw), f"{case.name} None")
        invariant(Out(float(per_class.mean())), oracle(case, p.yt, s, average="macro", **kw),
                  f"{case.name} macro")
        invariant(oracle(case, t_bin.ravel(), s.ravel()),
                  oracle(case, p.yt, s, average="micro", **kw), f"{case.name} micro")
    # geometric mean (imbalanced-learn): per class = binary problem of that class
    if p.kind == "multiclass":
        gm = Case("gmean", lm.geometric_mean_score, imb_gmean)
        per = [oracle(gm, t_bin[:, j], p_bin[:, j], average="binary")
               for j in range(t_bin.shape[1])]
        if all(o.ok for o in per):
            invariant(Out(np.array([o.value for o in per])),
                      oracle(gm, p.yt, p.yp, average=None), "gmean None")


@SETTINGS
@given(problems(("binary", "multiclass")), st.booleans())
def test_symmetry(p, weighted):
    """test_symmetric_metric: f1 (binary, per class, macro, micro), Cohen's kappa and MCC
    do not depend on which argument is the truth."""
    kw = {"sample_weight": p.w} if weighted else {}
    for case in cases_for(p):
        if case.symmetric:
            a = oracle(case, p.yt, p.yp, **kw)
            b = oracle(case, p.yp, p.yt, **kw)
            invariant(a, b, f"{case.name}: symmetry")


@SETTINGS
@given(problems(("binary", "multiclass")))
def test_normalize_option(p):
    """test_normalize_option_*: top-k accuracy with normalize=False is n times the
    normalized one; a normalized confusion matrix is the counts over their sums."""
    for case in cases_for(p):
        if case.ours is lm.top_k_accuracy_score and case.kw.get("normalize") is False:
            norm = oracle(case, p.yt, p.second(case), normalize=True)
            count = oracle(case, p.yt, p.second(case))
            if norm.ok:
                _close(norm.value, count.value / p.n, f"{case.name}: normalize", strict=False)
    counts = oracle(CASES[0], p.yt, p.yp)
    if counts.ok:
        cm = counts.value.astype(float)
        with np.errstate(all="ignore"):
            want = {"true": cm / cm.sum(1, keepdims=True), "pred": cm / cm.sum(0, keepdims=True),
                    "all": cm / cm.sum()}
        for norm, m in want.items():
            got = oracle(CASES[0], p.yt, p.yp, normalize=norm)
            _close(got.value, np.nan_to_num(m), f"confusion_matrix normalize={norm}",
                   strict=False)


# ------------------------------------------------------------------------------ edge cases

_BAD_TARGETS = {
    "legacy [[]]": ([[]], [[]]),
    "legacy [()]": ([()], [()]),
    "legacy seq of seq": ([[1], [2], [0, 1]], [[1], [2], [0, 1]]),
    "legacy tuples": ([(), (2), (0, 1)], [(), (2), (0, 1)]),
    "ragged object": (np.array([[], [1, 2]], dtype=object),) * 2,
    "ragged object 2": (np.array([[1, 2], [1]], dtype=object),) * 2,
    "object ints": (np.array([0, 1, 1], dtype=object),) * 2,
    "list with None": ([0, None, 1], [0, 1, 1]),
    "bytes": (np.array([b"a", b"b", b"a"]), np.array([b"a", b"a", b"b"])),
    "complex": (np.array([0, 1, 1], dtype=complex),) * 2,
    "3-D": (np.zeros((2, 2, 2), dtype=int),) * 2,
    "scalar": (1, 1),
    "string": ("ab", "ab"),
    "empty": (np.array([]), np.array([])),
    "mixed str/num": (np.array(["spam"] * 3 + ["eggs"] * 2), np.array([0, 1, 0, 1, 1])),
    "mixed str/num object": (np.array(["spam"] * 3 + ["eggs"] * 2, dtype=object),
                             np.array([0, 1, 0, 1, 1])),
    "binary vs continuous": (["a", "b", "a"], [0.1, 0.2, 0.3]),
    "continuous": ([0.5, 1.0, 0.0], [0.5, 1.0, 0.0]),
    "multiclass-multioutput": (np.array([[0, 1], [2, 3]]),) * 2,
    "indicator values {1, 2}": (np.array([[1, 2], [2, 1], [1, 1]]),) * 2,
    "float indicator {0, 2}": (np.array([[0.0, 2.0], [2.0, 0.0], [2.0, 2.0]]),) * 2,
    "row vectors": (np.array([[0, 1, 1, 0]]), np.array([[0, 1, 0, 0]])),
    "nan labels": (np.array([0.0, np.nan, 1.0]),) * 2,
    "sparse column": (sp.csr_matrix(np.array([[0], [1], [1]])),) * 2,
    "sparse values {1, 2}": (sp.csr_matrix(np.array([[1, 2], [2, 1]])),) * 2,
    "sparse float {0.5}": (sp.csr_matrix(np.array([[0.5, 0.0], [0.0, 0.5]])),) * 2,
}


def _score_like(case: Case, y: Any) -> Any:
    """Scores of the shape the metric expects for target ``y`` (one column per label of
    a 2-D target)."""
    if sp.issparse(y):
        shape = y.shape
    elif isinstance(y, (str, int)):
        shape = (1,)
    else:
        shape = np.asarray(y, dtype=object).shape
    rng = np.random.default_rng(0)
    if case.inp == "s1":
        return rng.random(shape[0])
    cols = shape[1] if len(shape) == 2 and shape[1] > 1 else 3
    if case.inp == "proba":
        return np.full((shape[0], cols), 1 / cols)
    if case.inp == "ml":
        return rng.random((shape[0], cols))
    return None


@pytest.mark.parametrize("bad", sorted(_BAD_TARGETS))
def test_bad_targets(bad):
    """test_raise_value_error_multilabel_sequences and friends: every metric refuses (or
    accepts) the same malformed targets as its peer, with the same exception kind."""
    yt, yp = _BAD_TARGETS[bad]
    for case in CASES:
        second = yp if case.inp == "pred" else _score_like(case, yt)
        if second is None:
            continue
        oracle(case, yt, second)


_BAD_WEIGHTS = {
    "short": lambda n: np.ones(n - 1),
    "inf": lambda n: np.r_[np.inf, np.ones(n - 1)],
    "nan": lambda n: np.r_[np.nan, np.ones(n - 1)],
    "complex": lambda n: np.ones(n, dtype=complex),
    "2-D": lambda n: np.ones((n, 2)),
    "column": lambda n: np.ones((n, 1)),
    "scalar": lambda n: 2.0,
    "all zero": lambda n: np.zeros(n),
    "negative": lambda n: np.r_[-1.0, np.ones(n - 1)],
    "bool": lambda n: np.r_[True, np.ones(n - 1, dtype=bool)],
    "float32": lambda n: np.linspace(0.5, 2, n).astype(np.float32),
    "sparse": lambda n: sp.csr_matrix(np.ones((1, n))),
}


@pytest.mark.parametrize("bad", sorted(_BAD_WEIGHTS))
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_invalid_sample_weight(bad, kind):
    """test_classification_with_invalid_sample_weight: the same errors (or results, and
    result dtypes: integer or bool weights give an int64 confusion matrix, float ones a
    float64 one) for every metric."""
    rng = np.random.default_rng(1)
    n = 12
    if kind == "multilabel":
        yt, yp = rng.integers(0, 2, (n, 3)), rng.integers(0, 2, (n, 3))
    else:
        c = 2 if kind == "binary" else 3
        yt, yp = np.r_[np.arange(c), rng.integers(0, c, n - c)], rng.integers(0, c, n)
    p = Problem(kind, yt, yp, rng.random(n), np.full((n, 3), 1 / 3), rng.random((n, 3)),
                np.ones(n, dtype=np.int64))
    w = _BAD_WEIGHTS[bad](n)
    for case in cases_for(p):
        oracle(case, p.yt, p.second(case), sample_weight=w)


@pytest.mark.parametrize("i,j", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_single_sample(i, j):
    """check_single_sample: one sample, as the peer (a result, a warning or an error)."""
    for case in CASES:
        second = [j] if case.inp == "pred" else _score_like(case, [i])
        if case.inp == "ml":
            continue
        oracle(case, [i], second)
        if case.inp == "pred":
            oracle(case, [[i, j]], [[j, i]])


def test_pos_label_kinds():
    """pos_label takes a real number, a string or a bool (scikit-learn's constraint);
    bytes, None where it is not allowed, or a float for imbalanced-learn are refused
    like the peer does (an error that is both a ValueError and a TypeError)."""
    y = np.array(["a", "b", "a", "b"])
    yb = np.array([b"a", b"b", b"a", b"b"])
    s = [0.1, 0.4, 0.35, 0.8]
    for case in CASES:
        if "pos_label" not in _sig(case.ours) or case.inp == "proba":
            continue
        for yt, pos in [(yb, b"b"), (yb, "b"), (y, b"b"), (y, "b"), (y, None), (y, 1.0),
                        ([0, 1, 0, 1], 1.0), ([0, 1, 0, 1], True), ([0, 1, 0, 1], np.int64(1)),
                        ([0, 1, 0, 1], [1])]:
            second = (yt if case.inp == "pred" else s)
            if case.inp == "ml":
                continue
            oracle(case, yt, second, pos_label=pos)


def test_issue_12_cases():
    """The cases of issue 12, each as the peer: legacy multilabel sequences and ragged
    object arrays raise; complex weights raise; sparse (csr, coo) multilabel indicators
    are accepted by f1 / precision / recall; bytes labels and bytes pos_label in the
    curves raise; float weights give a float confusion matrix; gmean with weights and
    average="weighted" equals imbalanced-learn's."""
    prf = [c for c in CASES if c.ours in (lm.f1_score, lm.precision_score, lm.recall_score)]
    for case in prf:
        for seq in ([[]], [()], np.array([[1, 2], [1]], dtype=object)):
            out = oracle(case, seq, seq)
            assert isinstance(out.error, ValueError), (case.name, seq)
        out = oracle(case, [0, 1, 1], [0, 1, 0], sample_weight=np.array([1, 2, 3], complex))
        assert isinstance(out.error, ValueError)
    yt = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    yp = np.array([[1, 0, 0], [0, 1, 1], [1, 0, 0]])
    for make in (sp.csr_matrix, sp.coo_matrix):
        for case in prf:
            if "average" in case.kw:
                assert oracle(case, make(yt), make(yp)).ok, case.name
    yb, s = np.array([b"a", b"b", b"a", b"b"]), [0.1, 0.4, 0.35, 0.8]
    for fn in ("roc_curve", "precision_recall_curve"):
        case = Case(fn, getattr(lm, fn), getattr(skm, fn), inp="s1")
        assert isinstance(oracle(case, yb, s, pos_label=b"b").error, TypeError)
        assert isinstance(oracle(case, yb, s, pos_label=b"b").error, ValueError)
        assert isinstance(oracle(case, yb.astype(str), s, pos_label=b"b").error, TypeError)
        assert isinstance(oracle(case, yb, s, pos_label="b").error, TypeError)
    cm = oracle(CASES[0], [0, 1, 1], [0, 1, 0], sample_weight=[1.0, 2.0, 3.0])
    assert cm.value.dtype == np.float64
    assert oracle(CASES[0], [0, 1, 1], [0, 1, 0], sample_weight=[1, 2, 3]).value.dtype == np.int64
    gm = Case("gmean", lm.geometric_mean_score, imb_gmean)
    w = [1, 2, 3, 1, 0.5, 2, 1]
    for avg in ("weighted", "macro", "micro", None, "multiclass"):
        assert oracle(gm, [0, 1, 2, 0, 1, 2, 1], [0, 2, 1, 0, 0, 1, 1], average=avg,
                      sample_weight=w).ok


@pytest.mark.parametrize(
    "bad",
    [{"average": "garbage"}, {"zero_division": 2}, {"beta": -1}, {"weights": "cubic"},
     {"normalize": "rows"}, {"k": 0}, {"correction": -1.0}, {"adjusted": "yes"}],
)
def test_bad_parameters(bad):
    """A parameter value scikit-learn's / imbalanced-learn's validation refuses is an
    error of the same kind (their InvalidParameterError is a ValueError and a
    TypeError) in every metric that takes the parameter."""
    rng = np.random.default_rng(4)
    yt, yp = np.r_[0, 1, 2, rng.integers(0, 3, 9)], rng.integers(0, 3, 12)
    p = Problem("multiclass", yt, yp, rng.random(12), np.full((12, 3), 1 / 3),
                rng.random((12, 3)), np.ones(12, dtype=np.int64))
    (name, value), = bad.items()
    tried = 0
    for case in cases_for(p):
        if name in _sig(case.ours) and case.inp in ("pred", "proba"):
            out = oracle(case, p.yt, p.second(case), **{name: value})
            tried += out.error is not None
    assert tried


@FEW
@given(problems(("binary", "multiclass")), st.data())
def test_labels_argument(p, data):
    """test_no_averaging_labels: ``labels`` reorders the per-class results (and the
    confusion matrix) and selects the classes averaged, as in the peer."""
    present = _present(p.yt, p.yp)
    order = np.array(data.draw(st.permutations(present.tolist())))
    inverse = np.searchsorted(present, order)
    for case in cases_for(p):
        if "labels" not in _sig(case.ours) or case.inp != "pred":
            continue
        base = oracle(case, p.yt, p.yp)
        out = oracle(case, p.yt, p.yp, labels=order)
        if case.perm == "vec":
            invariant(base, out, f"{case.name}: labels order", transform=lambda v: v[inverse])
        elif case.perm == "mat":
            invariant(base, out, f"{case.name}: labels order",
                      transform=lambda m: m[np.ix_(inverse, inverse)])
        elif case.perm == "inv" and "average" in case.kw and case.kw["average"] != "micro":
            invariant(base, out, f"{case.name}: labels order")
        # a subset, and a label absent from the data
        oracle(case, p.yt, p.yp, labels=order[:1])
        oracle(case, p.yt, p.yp, labels=np.r_[order, present.max() + 5])
