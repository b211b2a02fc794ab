"""Which library calls runtime mode may run while rebuilding a module: the calls that build a
value without I/O (Loss, Metric and layer constructors, tensor and array constructors, math,
pure builtins), never model constructors that load weights, file readers or training calls.

Data and two small predicates, used by `losslint.runtime.rebuild` (which statements are kept)
and by the worker (`losslint.runtime.probe`); no TensorFlow is imported here.
"""

from __future__ import annotations

import re

SAFE_LIBRARIES = frozenset(
    {
        "tensorflow",
        "tf_keras",
        "keras",
        "numpy",
        "scipy",
        "math",
        "cmath",
        "functools",
        "operator",
        "itertools",
        "collections",
        "string",
        "re",
        "enum",
        "dataclasses",
        "typing",
        "typing_extensions",
        "fractions",
        "decimal",
        "statistics",
        "abc",
        "numbers",
        "copy",
    }
)
PURE_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "bytes",
        "callable",
        "chr",
        "classmethod",
        "complex",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "frozenset",
        "getattr",
        "hasattr",
        "hash",
        "int",
        "isinstance",
        "issubclass",
        "iter",
        "len",
        "list",
        "map",
        "max",
        "min",
        "next",
        "object",
        "ord",
        "pow",
        "property",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "staticmethod",
        "str",
        "sum",
        "super",
        "tuple",
        "type",
        "zip",
    }
)
# called names that suggest training, I/O, processes or network: never run at import time
DENIED_CALL = re.compile(
    r"^(fit\w*|train\w*|evaluate\w*|predict\w*|save\w*|load\w*|restore\w*|write\w*|read\w*|"
    r"dump\w*|remove\w*|unlink|rmtree|rmdir|mkdir|makedirs|rename|copy\w*|system|popen|spawn\w*|"
    r"exec\w*|eval|open|input|print|download\w*|get_file|urlopen|urlretrieve|request|fork|kill|"
    r"exit|quit|sleep|run|call|check_call|check_output|seed|set_\w*|enable\w*|disable\w*|"
    r"connect|login|init|setup|main|tofile|GFile)$"
)
# Library calls a top-level statement may make: value-building calls without I/O. A dotted
# callee (imports resolved, `tensorflow.keras`/`tf_keras`/`keras.src` read as `keras`) is
# allowed when it is under one of these modules, or is one of the single names below.
ALLOWED_MODULES = (
    "keras.losses.",
    "keras.metrics.",
    "keras.layers.",
    "keras.ops.",
    "keras.activations.",
    "keras.initializers.",
    "keras.regularizers.",
    "keras.constraints.",
    "keras.backend.",
    "tensorflow.math.",
    "tensorflow.nn.",
    "tensorflow.linalg.",
    "tensorflow.signal.",
    "tensorflow.dtypes.",
    "tensorflow.sparse.",
    "tensorflow.ragged.",
    "tensorflow.bitwise.",
    "tensorflow.random.",
    "tensorflow.image.",
    "tensorflow.experimental.numpy.",
    "numpy.linalg.",
    "numpy.random.",
    "scipy.special.",
    "math.",
    "cmath.",
    "operator.",
    "itertools.",
    "collections.",
    "functools.",
    "enum.",
    "dataclasses.",
    "typing.",
    "typing_extensions.",
    "abc.",
    "numbers.",
    "string.",
    "re.",
    "fractions.",
    "decimal.",
    "statistics.",
    "copy.",
    "packaging.version.",
    "distutils.version.",
)
ALLOWED_CALLS = frozenset(
    {
        "keras.Loss",
        "keras.Metric",
        "keras.Layer",
        "keras.Variable",
        "keras.utils.register_keras_serializable",
        "keras.saving.register_keras_serializable",
        "keras.utils.to_categorical",
        "importlib.util.find_spec",
        "types.SimpleNamespace",
        "sys.getrecursionlimit",
    }
)
# `tensorflow.X` and `numpy.X` (one name) are tensor/array constructors and math, except these
_TOP_LEVEL_DENIED = frozenset(
    {
        "print",
        "py_function",
        "numpy_function",
        "fromfile",
        "fromregex",
        "memmap",
        "genfromtxt",
        "DataSource",
        "Session",
        "Graph",
    }
)
# library callees that build models, load weights or read files even though their module is allowed
_NEVER = re.compile(r"^(TFSMLayer|Lambda)$|^keras\.(applications|models|datasets|callbacks)\.")
# top-level packages whose modules a project may patch at import time (`K.where = where`)
FRAMEWORKS = frozenset({"keras", "tensorflow", "tf_keras"})


def canonical(dotted: str) -> str:
    """One spelling per library: `tensorflow.keras.X`, `tf_keras.X`, `keras.src.X` -> `keras.X`."""
    for prefix in (
        "tensorflow.python.keras.",
        "tensorflow.keras.",
        "tf_keras.src.",
        "tf_keras.",
        "keras._tf_keras.keras.",
        "keras.api.",
        "keras.src.",
    ):
        if dotted.startswith(prefix):
            return "keras." + dotted[len(prefix) :]
    return dotted


def allowed_library_call(dotted: str) -> bool:
    """Whether calling the library function or class `dotted` builds a value without I/O
    (Loss, Metric and layer constructors, tensor and array constructors, math)."""
    name = canonical(dotted)
    if ".__version__." in name:
        return True  # a method of a version string: `keras.__version__.split(".")`
    last = name.rsplit(".", 1)[-1]
    if DENIED_CALL.match(last) or _NEVER.search(name) or _NEVER.search(last):
        return False
    if name in ALLOWED_CALLS or name.startswith(ALLOWED_MODULES):
        return True
    parts = name.split(".")
    return len(parts) == 2 and parts[0] in ("tensorflow", "numpy") and last not in _TOP_LEVEL_DENIED
