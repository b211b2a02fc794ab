"""How runtime mode chooses inputs and arguments (no TensorFlow: NumPy and `inspect` only)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from losslint.runtime.arguments import (
    candidates,
    literal_calls,
    parameter_values,
    required_parameters,
    wants_framework,
)
from losslint.runtime.inputs import DEFAULT_SHAPES, attempts, label_order, make_inputs, perturb


def test_label_order_follows_the_source() -> None:
    assert label_order("tf.reduce_mean(tf.square(y_true - y_pred))")[0] == "float"
    assert label_order("sparse_categorical_crossentropy(y_true, y_pred)")[:2] == ["int", "int1"]
    # label equality: 0/1 labels first, so that a mean of `equal(...)` is not 0 on every input
    for source in ("K.equal(y_true, K.round(y_pred))", "tf.argmax(y_true)", "def binary_acc"):
        assert label_order(source)[0] == "binary", source


def test_attempts_try_the_simplest_shape_with_every_label_kind_first() -> None:
    tried = attempts(None, list(DEFAULT_SHAPES), "")
    assert tried[0] == ((5, 7), "float")
    first_shape = [labels for shape, labels in tried if shape == (5, 7)]
    assert first_shape == [
        *("float", "binary", "onehot", "int", "int1", "packed", "packed1", "gram"),
        *("multi2", "multi3"),  # several predictions per target: last
    ]
    assert {len(shape) for shape, _ in tried} == {2, 3, 4, 5}
    assert {shape[-1] % 2 for shape, _ in tried} == {0, 1}
    assert all(shape[0] not in shape[1:] for shape, _ in tried)  # the batch size is unique
    declared = attempts((6, 8, 8, 2), list(DEFAULT_SHAPES), "")
    assert {shape for shape, _ in declared} == {(6, 8, 8, 2)}  # a shape hint alone


@pytest.mark.parametrize(
    ("labels", "true_shape", "pred_shape"),
    [
        ("float", (5, 7), (5, 7)),
        ("binary", (5, 7), (5, 7)),
        ("onehot", (5, 7), (5, 7)),
        ("int", (5,), (5, 7)),
        ("int1", (5, 1), (5, 7)),
        ("packed", (5, 14), (5, 7)),
        ("packed1", (5, 8), (5, 7)),
        ("gram", (5, 7), (5, 5)),
    ],
)
def test_label_kinds(labels: str, true_shape: tuple[int, ...], pred_shape: tuple[int, ...]) -> None:
    y_true, y_pred = make_inputs((5, 7), labels)
    assert y_true.shape == true_shape and y_pred.shape == pred_shape
    assert y_pred.dtype == np.float32 and y_pred.min() >= 0.05 and y_pred.max() <= 0.95
    if labels in ("binary", "onehot", "gram"):
        assert set(np.unique(y_true)) <= {0.0, 1.0}
    if labels in ("onehot", "gram"):
        assert np.all(y_true.sum(axis=-1) == 1.0)
    changed = perturb(y_true, 4, labels, 7)
    differs = np.any((changed != y_true).reshape(5, -1), axis=1)
    assert list(differs) == [False] * 4 + [True]  # only the last sample


class CELoss:
    """Cross-entropy between two channels.

    >>> loss = CELoss(index_y_true=1, index_y_pred=2)
    """

    def __init__(self, index_y_true, index_y_pred, name="ce"):
        self.indices = (index_y_true, index_y_pred)


def smooth_l1(y_true, y_pred, beta: float, count: int, *, reduce: bool, fmt):
    """Smooth L1.

    Args:
        fmt (str): box format, one of "xywh" or "yxyx".
    """


def test_required_parameters_skip_the_loss_inputs() -> None:
    names = [p.name for p in required_parameters(smooth_l1, skip=2)]
    assert names == ["beta", "count", "reduce", "fmt"]
    assert [p.name for p in required_parameters(CELoss)] == ["index_y_true", "index_y_pred"]


def test_parameter_values_from_annotation_docstring_and_name() -> None:
    params = {p.name: p for p in required_parameters(smooth_l1, skip=2)}
    doc = inspect.getdoc(smooth_l1) or ""
    assert parameter_values(params["beta"], doc, 7, 7)[:3] == [1.0, 0.5, 2.0]
    assert parameter_values(params["count"], doc, 7, 7)[:3] == [2, 1, 3]
    assert parameter_values(params["reduce"], doc, 7, 7)[:2] == [False, True]
    assert parameter_values(params["fmt"], doc, 7, 7)[:2] == ["xywh", "yxyx"]
    index = required_parameters(CELoss)[0]
    assert parameter_values(index, "", 7, 7)[:2] == [0, 1]


def test_literal_calls_in_sources_and_docstrings() -> None:
    sources = [
        (
            "model.py",
            "from losses import CELoss\nce = CELoss(2, 3, name='x')\nother = CELoss(a, 1)\n",
        ),
        ("losses.py", inspect.getsource(CELoss)),
    ]
    found = [(s.args, s.kwargs, s.source) for s in literal_calls("CELoss", sources)]
    assert found == [
        ((2, 3), {"name": "x"}, "model.py:2"),  # `CELoss(a, 1)` is not literal
        ((), {"index_y_true": 1, "index_y_pred": 2}, "losses.py docstring:1"),
    ]


def test_candidates_order_hint_then_calls_then_search() -> None:
    params = required_parameters(CELoss)
    sources = [("model.py", "ce = CELoss(2, 3)\n")]
    sets = candidates(CELoss, "CELoss", params, sources, "(4, 5)", 7, 7)
    assert [s.source for s in sets[:3]] == ["`# losslint: args=` hint", "model.py:1", "searched"]
    assert sets[0].args == (4, 5) and sets[1].args == (2, 3)
    assert sets[2].kwargs == {"index_y_true": 0, "index_y_pred": 0}
    assert all(s.source == "searched" for s in sets[2:]) and len(sets) <= 12


def test_framework_use_is_recognised() -> None:
    assert wants_framework("backend = kwargs['backend']")
    assert wants_framework("backend, layers, models, utils = get_submodules_from_kwargs(kwargs)")
    assert not wants_framework("def f(y_true, y_pred, **kwargs): return kwargs.get('eps')")
