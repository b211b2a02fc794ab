"""Editor-side text helpers: LSP positions, incremental changes, buffer encoding, noqa edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslint.config import Config
from losslint.engine import lint_source
from losslint.integrations.noqa import noqa_edit
from losslint.integrations.text import (
    LineIndex,
    apply_change,
    minimal_edit,
    saved_text,
    source_bytes,
    units,
)
from losslint.model import Position

TEXT = 'a = "é😀"; b = 1\r\nc\x0cd = 2\rlast\u2028line\n'


def test_units() -> None:
    assert units("é😀x", "utf-16") == 4
    assert units("é😀x", "utf-8") == 7
    assert units("é😀x", "utf-32") == 3


def test_lines_break_only_at_cr_lf_crlf() -> None:
    index = LineIndex(TEXT)
    assert index.starts == [0, 17, 25, 35]  # 15 + CRLF, 7 + CR, 9 + LF
    assert TEXT[index.starts[1] : index.line_end(1)] == "c\x0cd = 2"
    assert TEXT[index.starts[2] : index.line_end(2)] == "last\u2028line"


@pytest.mark.parametrize(
    ("encoding", "character"),
    [("utf-16", 11), ("utf-8", 14), ("utf-32", 10)],
)
def test_round_trip_after_astral_character(encoding: str, character: int) -> None:
    index = LineIndex(TEXT)
    offset = TEXT.index("b = 1")
    assert index.to_lsp(offset, encoding) == (0, character)
    assert index.from_lsp(0, character, encoding) == offset
    assert index.lsp_position(Position(1, offset + 1), encoding) == (0, character)


def test_positions_past_the_end_of_a_line_clamp_to_it() -> None:
    index = LineIndex(TEXT)
    assert index.from_lsp(0, 999, "utf-16") == TEXT.index("\r\n")
    assert index.from_lsp(99, 0, "utf-16") == len(TEXT)
    # inside a surrogate pair: the start of the character
    assert index.from_lsp(0, 7, "utf-16") == TEXT.index("😀")
    # an offset inside CRLF is the end of the line
    assert index.to_lsp(TEXT.index("\n"), "utf-16") == (0, 16)


def test_incremental_change_after_form_feed_and_line_separator() -> None:
    changed = apply_change(TEXT, (2, 4), (2, 5), "_", "utf-16")
    assert changed == TEXT.replace("last\u2028line", "last_line")
    inserted = apply_change(TEXT, (3, 0), (3, 0), "new\n", "utf-16")
    assert inserted == TEXT + "new\n"


def test_minimal_edit_never_splits_crlf() -> None:
    before = "x = 1\r\ny = 2\r\n"
    after = "x = 1\r\n\r\ny = 2\r\n"
    start, end, content = minimal_edit(before, after)
    assert before[:start] + content + before[end:] == after
    assert before[start - 1 : start + 1] != "\r\n"
    assert before[end - 1 : end + 1] != "\r\n"


def test_source_bytes_follows_the_coding_cookie(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\nimport tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n    s = 'é'; return tf.reduce_mean(tf.square(y_true - y_pred))\n"
    data = source_bytes(text)
    assert data == text.encode("latin-1")
    result = lint_source(tmp_path / "losses.py", data, Config(root=tmp_path))
    [finding] = result.diagnostics
    line = text.splitlines()[5]
    assert finding.location == Position(6, line.index("tf.reduce_mean") + 1)
    assert source_bytes("x = 'é'\n") == "x = 'é'\n".encode()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("    return f(x)", "    return f(x)  # noqa: LL001"),
        ("    return f(x)   ", "    return f(x)  # noqa: LL001"),
        ("    return f(x)  # why", "    return f(x)  # why  # noqa: LL001"),
        ("    return f(x)  # noqa:E501", "    return f(x)  # noqa:E501, LL001"),
        (
            "    return f(x)  # NOQA: E501, LL002 # why",
            "    return f(x)  # NOQA: E501, LL002, LL001 # why",
        ),
    ],
)
def test_noqa_edit(line: str, expected: str) -> None:
    text = f"def loss(y_true, y_pred):\n{line}\n"
    edit = noqa_edit(text, 2, "LL001")
    assert edit is not None
    index = LineIndex(text)
    lo, hi = index.offset(edit.location), index.offset(edit.end_location)
    assert text[:lo] + edit.content + text[hi:] == f"def loss(y_true, y_pred):\n{expected}\n"


def test_noqa_edit_is_refused_where_a_comment_cannot_go() -> None:
    # the row ends inside a triple-quoted string: a `#` there would be string content
    text = 'def loss(y_true, y_pred):\n    return f(x, """a\nb""")\n'
    assert noqa_edit(text, 2, "LL001") is None


def test_saved_text_reads_like_python(tmp_path: Path) -> None:
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfx = '\xc3\xa9'\r\n")
    assert saved_text(bom) == "x = 'é'\r\n"
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n")
    assert saved_text(latin) == "# -*- coding: latin-1 -*-\nx = 'é'\n"
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"x = '\xe9'\n")
    assert saved_text(broken) is None
    assert saved_text(tmp_path / "missing.py") is None
