"""LL000 unreadable-file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from losslint.rules.base import Example, Rule

if TYPE_CHECKING:
    from losslint.analysis.losses import Issue


class UnreadableFile(Rule):
    """A file that cannot be read, decoded or parsed.

    ## What it does
    Reports a file losslint cannot read (a FIFO, a broken link, no permission), decode
    (invalid bytes for its encoding, binary data) or parse (a syntax error), at the position
    of the problem.

    ## Why is this bad?
    A file that cannot be parsed cannot be checked: its losses may be batch-reduced and
    nobody would know. losslint reports it instead of crashing or silently skipping it, and
    goes on with the other files.

    ## Example
    ```python
    def custom_mse(y_true, y_pred)
        return tf.reduce_mean(tf.square(y_true - y_pred))
    ```

    ## Use instead
    ```python
    def custom_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    ```

    ## Fix safety
    There is no automatic fix.
    """

    code = "LL000"
    name = "unreadable-file"
    VALID = (
        Example("x = 1\n"),
        Example("# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1")),
    )
    INVALID = (
        Example("def loss(y_true, y_pred)\n    return y_pred\n", ("LL000",)),
        Example(b"x = 1\n\x00\x01\x02", ("LL000",)),
        Example(b"x = '\xff\xfe'\n", ("LL000",)),
    )

    # LL000 findings come from the source layer (`SourceError.diagnostic`), never from the
    # batch-axis analysis: this rule claims no analysis issue.
    def claims(self, issue: Issue) -> bool:
        return False

    def message(self, issue: Issue) -> str:
        return ""
