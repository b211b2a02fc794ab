"""The `losslint` command: options, stdin, output and exit codes. No analysis here."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from losslint import __version__

if TYPE_CHECKING:
    from losslint.config import Warn
    from losslint.engine import LintOptions, Session
    from losslint.model import FileResult
    from losslint.notebook_lint import NotebookSet

# Everything else (configuration, engine, analysis, reporters; libcst only for fix edits) is
# imported where it is used, so that `--version` and `--help` answer at once and a lint run
# imports only what it needs (`python -X importtime -m losslint --version` shows it).

# the names of `losslint.reporters.REPORTERS` (a test keeps them equal)
FORMATS = ("github", "json", "sarif", "text")

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class LosslintError(click.ClickException):
    """A usage or configuration error: `losslint: error: ...` on stderr, exit 2, no usage banner."""

    exit_code = EXIT_ERROR

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"losslint: error: {self.format_message()}", err=True)


def _codes(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...] | None:
    if not value:
        return None
    from losslint.codes import selector_error

    option = param.opts[0]
    codes = tuple(c.strip().upper() for item in value for c in item.split(",") if c.strip())
    if not codes:
        raise LosslintError(f"{option} needs at least one rule selector")
    for code in codes:
        error = selector_error(code, option)
        if error is not None:
            raise LosslintError(error)
    return codes


def _explain(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from losslint.codes import did_you_mean, rule_codes, rule_docs

    code = value.upper()
    if code not in rule_codes():
        raise LosslintError(
            f"unknown rule code `{value}` for --explain{did_you_mean(code, set(rule_codes()))}"
        )
    (doc,) = [d for d in rule_docs() if d.code == code]
    fix = {
        "safe": "Fix is sometimes available.",
        "unsafe": "Fix is sometimes available (unsafe: applied with `--unsafe-fixes`).",
        None: "Fix is not available.",
    }[doc.fix]
    click.echo(f"# {doc.name} ({doc.code})\n")
    click.echo(f"{fix}\n")
    click.echo(doc.doc)
    ctx.exit(EXIT_OK)


def _list_rules(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """One line per rule: code, fix marker (`[*]` safe fix, `[unsafe]`), name, summary."""
    if not value or ctx.resilient_parsing:
        return
    from losslint.codes import rule_docs

    markers = {"safe": "[*]", "unsafe": "[unsafe]", None: ""}
    for doc in rule_docs():
        click.echo(f"{doc.code}\t{markers[doc.fix]}\t{doc.name}\t{doc.summary}")
    ctx.exit(EXIT_OK)


class Summary:
    """Counts for the closing line and the exit code (the reporters never decide it)."""

    def __init__(self) -> None:
        self.remaining = 0
        self.fixed = 0
        self.would_fix_files = 0
        self.hidden_unsafe = 0
        self.fixable_safe = 0

    def exit_code(self, *, exit_zero: bool, diff: bool, exit_non_zero_on_fix: bool) -> int:
        failing = self.remaining > 0 or (diff and self.would_fix_files > 0)
        failing = failing or (exit_non_zero_on_fix and self.fixed > 0)
        if failing and not exit_zero:
            return EXIT_FINDINGS
        return EXIT_OK


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("CLICOLOR_FORCE"):
        return True
    return sys.stdout.isatty()


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "LOSSLINT"}
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "--fix/--no-fix", default=False, help="Apply safe fixes (and unsafe ones with --unsafe-fixes)."
)
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (and mark with [*]) unsafe fixes.")
@click.option(
    "--diff", "show_diff", is_flag=True, help="Print the fixes as a unified diff; write nothing."
)
@click.option(
    "--format",
    "--output-format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--select",
    multiple=True,
    callback=_codes,
    help="Rule codes or prefixes to enable (comma-separated; ALL).",
)
@click.option("--ignore", multiple=True, callback=_codes, help="Rule codes or prefixes to disable.")
@click.option(
    "--extend-select",
    multiple=True,
    callback=_codes,
    help="Rule codes to enable on top of the selection.",
)
@click.option(
    "--extend-ignore",
    multiple=True,
    callback=_codes,
    help="Rule codes to disable on top of the ignored ones.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Use this TOML file.",
)
@click.option(
    "--stdin-filename",
    "--stdin-display-name",
    "stdin_filename",
    help="The file name of source read from stdin (`-`).",
)
@click.option(
    "--exit-zero", is_flag=True, help="Exit 0 even when findings remain (never hides exit 2)."
)
@click.option("--exit-non-zero-on-fix", is_flag=True, help="Exit 1 if any fix was applied.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option("--show-fixes", is_flag=True, help="List the fixes applied (on stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.option("-s", "--silent", is_flag=True, help="Print nothing; only the exit code tells.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Worker processes (0: choose from the number of files and CPUs).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply exclude settings to files named on the command line too.",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore", default=None, help="Honour .gitignore files."
)
@click.option("--disable-noqa", is_flag=True, help="Ignore `# noqa` comments.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    help="Colour text output.",
)
@click.option(
    "--runtime", is_flag=True, help="Confirm findings by running the losses under TensorFlow."
)
@click.option(
    "--runtime-all",
    is_flag=True,
    help="With --runtime: also probe losses static analysis did not flag.",
)
@click.option(
    "--show-refuted", is_flag=True, help="With --runtime: keep findings the runtime refuted."
)
@click.option(
    "--explain",
    callback=_explain,
    expose_value=False,
    is_eager=True,
    metavar="CODE",
    help="Explain a rule and exit.",
)
@click.option(
    "--list-rules",
    is_flag=True,
    callback=_list_rules,
    expose_value=False,
    is_eager=True,
    help="List the rules and exit.",
)
@click.version_option(__version__, "--version", prog_name="losslint")
@click.pass_context
def main(ctx: click.Context, **params: Any) -> None:
    """Find Keras custom losses that reduce over the batch axis, explain them, fix them.

    PATHS are files or folders (default: the current folder); `-` reads stdin.
    """
    # freezing everything at exit spares the interpreter's final collection (over a second
    # on a large project), since the operating system frees the memory anyway
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    try:
        _main(ctx, **ctx.params)
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as exc:  # an internal error must exit 2, never look like "findings"
        notebook = sys.modules.get("losslint.notebook")  # only a notebook fix raises this
        if notebook is not None and isinstance(exc, notebook.NotebookDependencyError):
            click.echo(f"error: {exc}", err=True)  # a notebook fix needs nbformat
            ctx.exit(EXIT_ERROR)
        click.echo(f"losslint: internal error: {type(exc).__name__}: {exc}", err=True)
        if os.environ.get("LOSSLINT_DEBUG"):
            raise
        ctx.exit(EXIT_ERROR)


def _main(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fix: bool,
    unsafe_fixes: bool,
    show_diff: bool,
    output_format: str,
    select: tuple[str, ...] | None,
    ignore: tuple[str, ...] | None,
    extend_select: tuple[str, ...] | None,
    extend_ignore: tuple[str, ...] | None,
    config_file: Path | None,
    stdin_filename: str | None,
    exit_zero: bool,
    exit_non_zero_on_fix: bool,
    statistics: bool,
    show_fixes: bool,
    quiet: bool,
    silent: bool,
    no_cache: bool,
    jobs: int,
    force_exclude: bool,
    respect_gitignore: bool | None,
    disable_noqa: bool,
    color: str,
    runtime: bool,
    runtime_all: bool,
    show_refuted: bool,
) -> None:
    cwd = os.getcwd()
    stdin_mode = Path("-") in paths or (stdin_filename is not None and not paths)
    if stdin_mode and len(paths) > 1:
        click.echo("warning: ignoring other paths when reading from stdin", err=True)
    targets = list(paths) or [Path(".")]
    start = (
        Path(stdin_filename)
        if stdin_mode and stdin_filename
        else (Path(cwd) if stdin_mode else targets[0])
    )
    from dataclasses import replace

    from losslint.config import ConfigError, load_config

    try:
        config = load_config(start, config_file, warn=_warning(silent))
    except ConfigError as exc:
        raise LosslintError(str(exc)) from exc
    if respect_gitignore is not None:
        config = replace(config, respect_gitignore=respect_gitignore)
    from losslint.engine import LintOptions, Session
    from losslint.model import Applicability, Diagnostic, FileResult

    options = LintOptions(
        fix=fix or show_diff,
        unsafe_fixes=unsafe_fixes,
        disable_noqa=disable_noqa,
        select=select,
        ignore=(*(ignore or ()), *(extend_ignore or ())),
        extend_select=extend_select or (),
        # text and annotations show a fix as `[*]`: its edits (libcst) are rendered only
        # when they are written, printed or verified
        render_fixes=output_format not in ("text", "github") or runtime or runtime_all,
        # runtime mode rebuilds modules from every result's text; output needs only those
        # with findings or fixes
        keep_sources=runtime or runtime_all,
    )
    session = Session(config, cache=not no_cache and not stdin_mode, jobs=jobs)
    if runtime or runtime_all:
        from losslint.runtime import require_tensorflow

        try:
            require_tensorflow()
        except RuntimeError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)

    echo: bytes | None = None
    notebooks: NotebookSet | None = None
    nothing_found = False  # no file to check: never reported as "All checks passed!"
    if stdin_mode:
        stdin_result, echo = _run_stdin(session, options, stdin_filename, force_exclude)
        if stdin_result is None:
            if fix and not show_diff:
                _write_binary(echo)
            ctx.exit(EXIT_OK)
        results = [stdin_result]
    else:
        from losslint.discovery import discover
        from losslint.source import SourceError, real_path

        found = discover(targets, config, force_exclude=force_exclude)
        nothing_found = not found.files and not found.missing
        if [real_path(t) for t in targets] == [session.root]:
            session.set_project_files(found.files)  # one walk of the project, not two
        files = found.files
        if any(str(f).lower().endswith(".ipynb") for f in files):
            from losslint.notebook_lint import NotebookSet

            notebooks = NotebookSet.read(found.files, session, options)
            files = notebooks.files
        named = {os.path.abspath(t) for t in targets if not os.path.isdir(t)}
        explicit = [f for f in files if str(f) in named]
        results = session.lint(files, options, explicit)
        if notebooks is not None:  # a notebook whose module does not parse: cell by cell
            results = notebooks.recover(results, explicit)
        results.extend(
            FileResult(
                path=p, diagnostics=(SourceError("no such file or directory").diagnostic(p),)
            )
            for p in found.missing
        )
    if runtime or runtime_all:
        from losslint.runtime import verify

        results = verify(
            results,
            config,
            all_losses=runtime_all,
            show_refuted=show_refuted,
            quiet=quiet or silent,
            options=options,
        )
    if notebooks is not None:  # after runtime mode, which works on the notebooks' code cells
        results = notebooks.finish(results)
        for warning in notebooks.warnings:
            click.echo(f"warning: {warning}", err=True)

    summary = Summary()
    diagnostics: list[Diagnostic] = []
    for result in results:
        diagnostics.extend(result.diagnostics)
        summary.fixed += result.fixed_count
        if result.fixed_source is not None:
            summary.would_fix_files += 1
    diagnostics.sort(key=Diagnostic.sort_key)
    summary.remaining = len(diagnostics)
    for d in diagnostics:
        if d.fix is not None:
            if d.fix.applicability is Applicability.SAFE:
                summary.fixable_safe += 1
            elif not unsafe_fixes:
                summary.hidden_unsafe += 1

    from losslint.reporters import REPORTERS, ReportContext
    from losslint.reporters.paths import display_path

    ctx.color = _use_color(color) and output_format == "text"
    report = ReportContext(
        root=str(config.root), cwd=cwd, unsafe_fixes=unsafe_fixes, color=bool(ctx.color)
    )
    if show_diff:
        from losslint.reporters import diff as diff_reporter

        text = diff_reporter.render(results, cwd)
        if not silent:
            click.echo(text, nl=False)
        if not quiet and not silent:
            count = sum(r.fixed_count for r in results)
            click.echo(
                f"Would fix {count} error{'s' if count != 1 else ''}."
                if count
                else "No errors would be fixed.",
                err=True,
            )
    else:
        if stdin_mode and fix:
            _write_binary(echo or b"")
            if not silent:
                click.echo(REPORTERS["text"](diagnostics, report), err=True, nl=False)
        elif not silent:
            if statistics:
                from losslint.reporters.text import statistics as render_statistics

                click.echo(render_statistics(diagnostics, unsafe_fixes), nl=False)
            else:
                click.echo(REPORTERS[output_format](diagnostics, report), nl=False)
        if not stdin_mode:
            _write_fixes(results)
        if show_fixes and not silent:
            for result in results:
                if result.fixed_count:
                    shown = display_path(result.path, cwd)
                    click.echo(f"Fixed {result.fixed_count} in {shown}", err=True)
        if not quiet and not silent and output_format == "text":
            sys.stdout.flush()  # the summary follows the findings when both go to one pipe
            click.echo(_summary_text(summary, fix, nothing_found), err=True)
        if session.held_back and not silent:
            count = len(session.held_back)
            click.echo(
                f"note: {count} loss-shaped function{'s' if count != 1 else ''} not checked: "
                "no file of this project names Keras (set `loss-arg-names` to check them)",
                err=True,
            )
        if nothing_found and not silent:
            click.echo(
                "warning: no Python files or notebooks found under the given paths "
                "(excluded, ignored by .gitignore, or none there): nothing was checked",
                err=True,
            )
    if session.internal_errors:
        for error in session.internal_errors:
            if not any(error.path == r.path for r in results):
                shown = display_path(error.path, cwd)
                click.echo(f"losslint: error: {shown}: {error.message}", err=True)
        ctx.exit(EXIT_ERROR)
    ctx.exit(
        summary.exit_code(
            exit_zero=exit_zero, diff=show_diff, exit_non_zero_on_fix=exit_non_zero_on_fix
        )
    )


def _run_stdin(
    session: Session,
    options: LintOptions,
    stdin_filename: str | None,
    force_exclude: bool,
) -> tuple[FileResult | None, bytes]:
    """Lint (and fix) stdin; returns the result (None when excluded) and the bytes to echo."""
    from dataclasses import replace

    from losslint.discovery import is_excluded
    from losslint.source import decode

    data = sys.stdin.buffer.read()
    path = Path(os.path.abspath(stdin_filename)) if stdin_filename else Path(os.getcwd()) / "-"
    if force_exclude and stdin_filename and is_excluded(path, session.config):
        return None, data
    from losslint.notebook import is_notebook

    if stdin_filename and is_notebook(stdin_filename):
        from losslint.notebook_lint import lint_notebook_source

        result, warnings = lint_notebook_source(path, data, session, options)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    else:
        session.set_overlay(path, data)
        result = session.lint([path], options, explicit=[path])[0]
    output = data
    if result.fixed_source is not None:
        output = decode(path, data).encode(result.fixed_source)
    if not stdin_filename:
        result = replace(
            result,
            path=Path("-"),
            diagnostics=tuple(replace(d, path=Path("-")) for d in result.diagnostics),
        )
    return result, output


def _write_binary(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _write_fixes(results: list[FileResult]) -> None:
    from losslint.source import SourceError, decode, read_bytes, write_atomic

    for result in results:
        if result.fixed_source is None or str(result.path) == "-":
            continue
        try:
            original = read_bytes(result.path)
            source = decode(result.path, original)
        except SourceError:
            continue
        if source.text != result.source:
            click.echo(f"warning: {result.path} changed while losslint ran; not written", err=True)
            continue
        write_atomic(result.path, source.encode(result.fixed_source))


def _warning(silent: bool) -> Warn:
    """Where configuration warnings go: stderr, unless `--silent`."""

    def warn(message: str) -> None:
        if not silent:
            click.echo(f"losslint: warning: {message}", err=True)

    return warn


def _summary_text(summary: Summary, fix: bool, nothing_found: bool = False) -> str:
    n = summary.remaining
    if n == 0 and summary.fixed == 0:
        return "No files were checked." if nothing_found else "All checks passed!"
    plural = "s" if (n + summary.fixed) != 1 else ""
    if fix and summary.fixed:
        text = f"Found {n + summary.fixed} error{plural} ({summary.fixed} fixed, {n} remaining)."
    else:
        text = f"Found {n} error{'s' if n != 1 else ''}."
    if not fix and summary.fixable_safe:
        text += f"\n[*] {summary.fixable_safe} fixable with the `--fix` option."
    if summary.hidden_unsafe:
        text += (
            f"\n{summary.hidden_unsafe} hidden fix{'es' if summary.hidden_unsafe != 1 else ''}"
            " can be enabled with the `--unsafe-fixes` option."
        )
    return text


if __name__ == "__main__":  # pragma: no cover
    main()
