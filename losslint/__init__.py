"""losslint: find Keras custom losses that reduce over the batch axis, explain them, fix them."""

__version__ = "0.1.0"
