"""Runtime mode (`losslint --runtime`): run the flagged losses under TensorFlow and say whether
each finding is real. Needs the `runtime` extra (`pip install 'losslint[runtime]'`).

Importing this package never imports TensorFlow: TensorFlow is imported only in a worker
process (`losslint.runtime.child`), started by `require_tensorflow` or `verify`.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from losslint.config import Config
    from losslint.engine import LintOptions
    from losslint.model import FileResult

INSTALL_HINT = "runtime mode needs TensorFlow: pip install 'losslint[runtime]'"


def tensorflow_available() -> bool:
    """Whether TensorFlow is installed (found, not imported)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def require_tensorflow(prestart: bool = True) -> None:
    """Raise RuntimeError naming `pip install 'losslint[runtime]'` when TensorFlow is missing.

    With `prestart`, also start the worker process now, so that TensorFlow imports while
    static analysis runs; `verify` then uses it (an exit hook ends it if nothing does).
    """
    if not tensorflow_available():
        raise RuntimeError(INSTALL_HINT)
    if prestart:
        from losslint.runtime.worker import prestart as start_worker

        start_worker()


def verify(
    results: list[FileResult],
    config: Config,
    *,
    all_losses: bool = False,
    show_refuted: bool = False,
    quiet: bool = False,
    options: LintOptions | None = None,
) -> list[FileResult]:
    """Run the losses behind the findings and attach a `runtime` verdict to each finding.

    Refuted findings are dropped unless `show_refuted`; with `all_losses`, losses that static
    analysis did not flag are probed too, and those that lost the batch axis become findings
    (filtered by the rule selection and `# noqa` like static findings: pass the command line's
    `options` so that `--select`/`--ignore`/`--disable-noqa` apply to them too).
    Progress and a summary go to stderr unless `quiet`.
    """
    from losslint.runtime.bridge import verify as run

    return run(
        results,
        config,
        all_losses=all_losses,
        show_refuted=show_refuted,
        quiet=quiet,
        options=options,
    )


__all__ = ["INSTALL_HINT", "require_tensorflow", "tensorflow_available", "verify"]
