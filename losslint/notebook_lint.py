"""Notebooks around the engine: unreadable notebooks, and results mapped back to cells.

The engine reads a notebook as its virtual module (`losslint.notebook`: code cells joined,
magics masked), so a notebook is one module of the project (it imports the project's modules;
per-file-ignores and `# noqa` apply as for any file). Here every position, fix and evidence
string of its results is mapped back to cells, and a fixed virtual module becomes the fixed
notebook's JSON text, validated with nbformat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from losslint.config import Config
from losslint.engine import LintOptions, Session, filter_diagnostics
from losslint.model import Diagnostic, Edit, FileResult, Fix
from losslint.notebook import Notebook, NotebookError, is_notebook, validate
from losslint.source import SourceError, read_bytes, real_path

_LAMBDA = re.compile(r"<lambda>@(\d+)")


@dataclass
class NotebookSet:
    """The notebooks among a run's files: parsed ones (as engine overlays) and unreadable ones.

    `files` are the paths to hand to the engine (Python files and readable notebooks).
    """

    session: Session
    options: LintOptions
    files: list[Path] = field(default_factory=list)
    notebooks: dict[Path, Notebook] = field(default_factory=dict)
    errors: list[FileResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.session.config

    @classmethod
    def read(cls, files: list[Path], session: Session, options: LintOptions) -> NotebookSet:
        found = cls(session, options)
        for path in files:
            if not is_notebook(path):
                found.files.append(path)
                continue
            try:
                notebook = Notebook.parse(read_bytes(path))
            except (SourceError, NotebookError) as exc:
                found.errors.append(_unreadable(path, exc, session.config, options))
                continue
            found.notebooks[real_path(path)] = notebook
            found.files.append(path)
        return found

    def recover(
        self, results: list[FileResult], explicit: list[Path] | None = None
    ) -> list[FileResult]:
        """Lint again, cell by cell, the notebooks whose virtual module did not parse.

        Jupyter runs each cell on its own: a cell that does not parse (an exercise stub,
        Python 2) fails alone. Such a notebook's module is made again without those cells
        (`Notebook.from_text(..., alone=True)`) and linted, so that the other cells are still
        checked and fixed; `finish` reports each left-out cell as LL000. Only a notebook the
        engine parsed (named, or passing the text gate) gets here, and one that parses is
        never parsed cell by cell. The whole run is linted again (the session analyses again
        only what depends on those notebooks), so that a loss in a module the notebook
        compiles is judged with that compile site.
        """
        split = []
        for result in results:
            key = real_path(result.path)
            notebook = self.notebooks.get(key)
            if notebook is not None and any(d.code == "LL000" for d in result.diagnostics):
                alone = Notebook.from_text(notebook.text, notebook.bom, alone=True)
                if alone.split:
                    self.notebooks[key] = alone
                    self.session.set_overlay(result.path, alone.virtual_bytes)
                    split.append(result.path)
        if not split:
            return results
        named = [*(explicit or []), *split]
        return self.session.lint([r.path for r in results], self.options, named)

    def finish(self, results: list[FileResult]) -> list[FileResult]:
        """Map the engine's results for the notebooks (virtual modules) back to cells.

        A fixed virtual module becomes the notebook's fixed JSON text, validated first (raises
        NotebookDependencyError without nbformat); a fix that cannot be written back is
        dropped with a warning in `warnings`, and the notebook keeps its findings.
        """
        final: dict[Path, Notebook] = {}
        mapped: list[FileResult] = []
        for result in results:
            notebook = self.notebooks.get(real_path(result.path))
            if notebook is None:
                mapped.append(result)
                continue
            result, fixed = self._write_back(result, notebook)
            final[real_path(result.path)] = fixed
            mapped.append(result)
        names = _Names(final, self.config.root)
        out = [_in_cells(r, final.get(real_path(r.path)), names) for r in mapped]
        return out + self.errors

    def _write_back(self, result: FileResult, notebook: Notebook) -> tuple[FileResult, Notebook]:
        """The result with notebook JSON as its source and fixed source, and the notebook its
        remaining findings' positions refer to."""
        if result.fixed_source is None:
            return replace(result, source=notebook.text), notebook
        try:
            fixed_text = notebook.apply_virtual_text(result.fixed_source)
            validate(fixed_text)
            fixed = Notebook.from_text(fixed_text, notebook.bom, alone=notebook.split)
        except NotebookError as exc:
            self.warnings.append(f"{result.path}: not fixed: {exc.message}")
            options = replace(self.options, fix=False)
            self.session.set_overlay(result.path, None)
            unfixed = self.session.lint([result.path], options)[0]
            return replace(unfixed, source=notebook.text), notebook
        return replace(result, source=notebook.text, fixed_source=fixed_text), fixed


def lint_notebook_source(
    path: Path, data: bytes, session: Session, options: LintOptions | None = None
) -> tuple[FileResult, list[str]]:
    """Lint notebook bytes as if they were the notebook at `path` (stdin, editors); returns
    the result (JSON text as `source`/`fixed_source`) and warnings."""
    options = options or LintOptions()
    try:
        notebook = Notebook.parse(data)
    except NotebookError as exc:
        return _unreadable(path, exc, session.config, options), []
    found = NotebookSet(session, options, [path], {real_path(path): notebook})
    session.set_overlay(path, notebook.virtual_bytes)
    result = found.recover(session.lint([path], options, explicit=[path]), [path])[0]
    return found.finish([result])[0], found.warnings


def map_to_cells(result: FileResult, notebook: Notebook, root: Path) -> FileResult:
    """A notebook's result (its virtual module's) with findings, fixes and names in cells.

    For notebooks held in memory (editors): no JSON is written back; `notebook.fixed_cells`
    turns a fixed virtual module into cell sources.
    """
    return _in_cells(result, notebook, _Names({real_path(result.path): notebook}, root))


def _in_cells(result: FileResult, notebook: Notebook | None, names: _Names) -> FileResult:
    diagnostics = [names.rewrite(_to_cells(d, notebook), notebook) for d in result.diagnostics]
    if notebook is not None:
        diagnostics += _unparsed_cells(result.path, notebook)
    return replace(result, diagnostics=tuple(sorted(diagnostics, key=Diagnostic.sort_key)))


def _unparsed_cells(path: Path, notebook: Notebook) -> list[Diagnostic]:
    """LL000 for each code cell that does not parse (left out of the analysis)."""
    found = []
    for skipped in notebook.skipped:
        if skipped.error is None:
            continue
        message = f"{skipped.reason} (this cell is not checked; the other cells are)"
        at = skipped.error
        found.append(SourceError(message, at.row, at.column).diagnostic(path))
        found[-1] = replace(found[-1], cell=skipped.cell)
    return found


def _unreadable(
    path: Path, exc: SourceError | NotebookError, config: Config, options: LintOptions
) -> FileResult:
    if isinstance(exc, NotebookError):
        exc = SourceError(exc.message, exc.row, exc.column)
    kept = filter_diagnostics([exc.diagnostic(path)], path, None, config, options)
    return FileResult(path=path, diagnostics=tuple(kept))


def _to_cells(diagnostic: Diagnostic, notebook: Notebook | None) -> Diagnostic:
    """A finding in a notebook's virtual module, with positions within its cell."""
    if notebook is None or not notebook.code_cells:
        return diagnostic
    cell, start = notebook.to_cell(diagnostic.location)
    end_cell, end = notebook.to_cell(diagnostic.end_location)
    if end_cell != cell:
        end = start
    noqa_cell, noqa_row = notebook.cell_row(diagnostic.noqa_row)
    return replace(
        diagnostic,
        cell=cell,
        location=start,
        end_location=end,
        noqa_row=noqa_row if noqa_cell == cell else start.row,
        fix=_fix_to_cells(diagnostic.fix, notebook, cell),
    )


def _fix_to_cells(fix: Fix | None, notebook: Notebook, cell: int) -> Fix | None:
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        start_cell, start = notebook.to_cell(edit.location)
        end_cell, end = notebook.to_cell(edit.end_location)
        if start_cell != cell or end_cell != cell:
            return None  # not expressible within the finding's cell
        edits.append(Edit(edit.content, start, end))
    return replace(fix, edits=tuple(edits))


class _Names:
    """Rewrites virtual line numbers as cell positions: in evidence (`nb.ipynb:57` becomes
    `nb.ipynb:cell 4:3`) and in the names of a notebook's own lambdas (`<lambda>@57` becomes
    `<lambda>@cell 4:3`)."""

    def __init__(self, notebooks: dict[Path, Notebook], root: Path) -> None:
        self.by_rel: dict[str, Notebook] = {}
        base = real_path(root)
        for path, notebook in notebooks.items():
            if not notebook.code_cells:
                continue
            try:
                rel = path.relative_to(base).as_posix()
            except ValueError:
                rel = path.as_posix()
            self.by_rel[rel] = notebook
        self.where = (
            re.compile("(" + "|".join(re.escape(r) for r in self.by_rel) + r"):(\d+)\b")
            if self.by_rel
            else None
        )

    def rewrite(self, diagnostic: Diagnostic, notebook: Notebook | None) -> Diagnostic:
        """`notebook`: the one the finding is in (its lambdas are renamed), if any."""
        evidence = diagnostic.evidence
        if evidence and self.where is not None:
            evidence = self.where.sub(self._site, evidence)
        if notebook is None or not notebook.code_cells:
            return replace(diagnostic, evidence=evidence)
        module = _module_name(diagnostic.path) + "."
        own = diagnostic.function is not None and diagnostic.function.startswith(module)

        def rename(text: str | None, applies: bool) -> str | None:
            if text is None or not applies:
                return text
            return _LAMBDA.sub(
                lambda m: "<lambda>@cell {}:{}".format(*notebook.cell_row(int(m.group(1)))),
                text,
            )

        return replace(
            diagnostic,
            evidence=evidence,
            function=rename(diagnostic.function, own),
            message=rename(diagnostic.message, own) or diagnostic.message,
            losses=tuple(rename(n, n.startswith(module)) or n for n in diagnostic.losses),
        )

    def _site(self, match: re.Match[str]) -> str:
        notebook = self.by_rel[match.group(1)]
        cell, row = notebook.cell_row(int(match.group(2)))
        return f"{match.group(1)}:cell {cell}:{row}"


def _module_name(path: Path) -> str:
    """The dotted name the engine gives a file's module: its package path and its stem."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder != folder.parent:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


__all__ = ["NotebookSet", "lint_notebook_source", "map_to_cells"]
