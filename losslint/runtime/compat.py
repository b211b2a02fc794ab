"""The compatibility layer for old code: names Keras 3 and TensorFlow 2 removed, put back.

Imported by the worker (`losslint.runtime.probe`); the modules are passed in, so that this file
imports no TensorFlow itself. Two sources, both taken from the installed TensorFlow, never
written here:

- `keras.backend` gains the Keras 2 functions Keras 3 removed (`K.flatten`, `K.sum`, ...), from
  Keras 3's own TensorFlow implementations of them (`tf.keras.backend`);
- `tf`, `tf.nn`, `tf.image`, ... gain the TensorFlow 1 names TensorFlow 2 dropped from them but
  still ships under `tf.compat.v1` (`tf.log`, `tf.to_int32`, `tf.extract_image_patches`,
  `tf.metrics.mean_iou`); only the namespaces in `TF1_NAMESPACES`.

Everything added is recorded and removed again (`CompatLayer.remove`), so the next loss runs on
the real modules.
"""

from __future__ import annotations

import contextlib
import re
from types import ModuleType
from typing import Any

# TensorFlow 2 namespaces that get their TensorFlow 1 names back from `tf.compat.v1.<same>`
TF1_NAMESPACES = ("", "nn", "image", "metrics", "losses", "linalg", "random")
# errors that mean TensorFlow 1 code met TensorFlow 2
TF1_ERROR = re.compile(r"module 'tensorflow(\.[\w.]+)?' has no attribute")


class CompatLayer:
    """Adds the missing names to live modules, and takes them away again."""

    def __init__(self, tf: Any, keras: Any) -> None:
        self.tf = tf
        self.keras = keras
        self._added: list[tuple[Any, str]] = []

    def add(self) -> None:
        """Keras 2's backend functions on `keras.backend`, TensorFlow 1 names on `tf.*`."""
        self._fill(self.keras.backend, self.tf.keras.backend)
        v1 = self.tf.compat.v1
        for name in TF1_NAMESPACES:
            target = getattr(self.tf, name, None) if name else self.tf
            source = getattr(v1, name, None) if name else v1
            if isinstance(target, ModuleType) and isinstance(source, ModuleType):
                self._fill(target, source)

    def _fill(self, target: Any, source: Any) -> None:
        for name in dir(source):
            if name.startswith("_") or hasattr(target, name):
                continue
            with contextlib.suppress(AttributeError, TypeError):
                setattr(target, name, getattr(source, name))
                self._added.append((target, name))

    def remove(self) -> None:
        for target, name in reversed(self._added):
            with contextlib.suppress(AttributeError):
                delattr(target, name)
        self._added = []
