"""Reading the errors a loss raises in the worker: their one-line description, whether they
depend on the input, and whether they mean Keras 2 or TensorFlow 1 code met Keras 3."""

from __future__ import annotations

import re
from typing import Any

from losslint.runtime.compat import TF1_ERROR

# errors that mean Keras 2 code met Keras 3 (removed `keras.backend` functions, `keras.engine`,
# `Reduction.AUTO`): worth another try with the compatibility layer or tf_keras
_KERAS2_ERROR = re.compile(
    r"(AttributeError|ImportError|ModuleNotFoundError|NameError)\b.*\bkeras|"
    r"argument `reduction`|Reduction|keras\.engine|keras\.layers\.merge"
)
# errors that do not depend on the input: trying more shapes is pointless
_INPUT_INDEPENDENT = (NameError, AttributeError, ImportError, KeyError, RecursionError)


class LossBuildError(Exception):
    """The loss could not be rebuilt or turned into a callable."""


class BadOutput(Exception):
    """The loss returned something that is not a tensor."""


def describe(exc: BaseException, limit: int = 300) -> str:
    """One line, cut at `limit`. A loss that could not be built loses the middle of a long
    text instead of its end, where the chain of causes ends in the root one (`..., as `Layer`
    (layers.py:4) failed to load: ModuleNotFoundError: ...`); an error the loss raised keeps
    its start (the error itself; the end holds TensorFlow's traceback of user code)."""
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
    text = re.sub(r"\s+", " ", text)
    if len(text) <= limit:
        return text
    if not isinstance(exc, LossBuildError):
        return text[: limit - 3] + "..."
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def missing_argument(exc: BaseException) -> bool:
    return isinstance(exc, TypeError) and "required positional argument" in str(exc)


def input_independent(exc: BaseException) -> bool:
    """Whether an error would be the same on every input: a missing name or argument, unless
    it was raised while handling another error (a fallback that failed on what the first
    error was about, such as an input of the wrong shape)."""
    if missing_argument(exc):
        return True
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        if not isinstance(error, _INPUT_INDEPENDENT):
            return False
        seen.add(id(error))
        error = error.__context__
    return True


_ARRAY_METHOD = re.compile(r"EagerTensor'? object has no attribute '?(\w+)")


def wants_arrays(errors: str) -> bool:
    """A NumPy score function run on tensors: `.sum()`, `.astype()`, `.copy()` are methods of
    NumPy arrays that an EagerTensor lacks."""
    return _ARRAY_METHOD.search(errors) is not None


def keras2_failure(result: dict[str, Any]) -> bool:
    """Whether Keras 2 or TensorFlow 1 code failed (worth another try with the compatibility
    layer, or under tf_keras)."""
    texts = [str(result.get("error") or "")]
    texts += [str(t.get("error") or "") for t in result.get("tried") or []]
    return any(_KERAS2_ERROR.search(text) or TF1_ERROR.search(text) for text in texts)
