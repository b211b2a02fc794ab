"""`losslint-lsp` driven as an editor drives it: a real subprocess, JSON-RPC over stdio.

Every expectation is computed independently of the server: positions by counting UTF-16 (or
UTF-8) units in the test, fixed text by the CLI (`losslint --fix -`), finding objects by
`losslint --format json`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_subprocess
from lsp_client import SERVER, LspClient, apply_edits, running_server, workspace_edits

pytestmark = pytest.mark.slow

PUBLISH = "textDocument/publishDiagnostics"

BAD = (
    "import tensorflow as tf\n\n\ndef mse(y_true, y_pred):\n"
    "    return tf.reduce_mean(tf.square(y_true - y_pred))\n"
)
SUM = (
    "import tensorflow as tf\n\n\ndef sse(y_true, y_pred):\n"
    "    return tf.reduce_sum(tf.square(y_true - y_pred))\n"
)
# non-ASCII before the finding on its line: é (1 UTF-16 unit, 2 UTF-8 bytes), 😀 (2 units, 4
# bytes); a form feed and U+2028 in comments (line breaks for str.splitlines, not for LSP)
UNICODE = (
    "import tensorflow as tf\n\n# page\x0cbreak, and a line\u2028separator\n\n"
    "def mse(y_true, y_pred):\n"
    '    tag = "é😀"; return tf.reduce_mean(tf.square(y_true - y_pred))\n'
)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def open_document(client: LspClient, path: Path, text: str, version: int = 1) -> dict[str, Any]:
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": path.as_uri(),
                "languageId": "python",
                "version": version,
                "text": text,
            }
        },
    )
    return client.wait_for(PUBLISH, path.as_uri())[1]


def change(
    client: LspClient, path: Path, version: int, changes: list[dict[str, Any]]
) -> dict[str, Any]:
    """Send didChange and return the diagnostics published for this version."""
    uri = path.as_uri()
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes},
    )
    while True:
        params = client.wait_for(PUBLISH, uri)[1]
        if params.get("version") == version:
            return params


def as_changes(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Edits of one WorkspaceEdit as the incremental changes an editor sends (last first)."""
    ordered = sorted(
        edits,
        key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
        reverse=True,
    )
    return [{"range": e["range"], "text": e["newText"]} for e in ordered]


def code_actions(
    client: LspClient, path: Path, rng: dict[str, Any], only: list[str] | None = None
) -> list[dict[str, Any]]:
    context: dict[str, Any] = {"diagnostics": []}
    if only is not None:
        context["only"] = only
    return client.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": path.as_uri()}, "range": rng, "context": context},
    )


def quick_fixes(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The actions that fix a finding (not the noqa suppression, not the runtime check)."""
    return [
        a for a in actions if a["kind"] == "quickfix" and "edit" in a and "noqa" not in a["title"]
    ]


def cli_fixed(project: Path, name: str, data: bytes) -> bytes:
    result = run_subprocess(["--fix", "--stdin-filename", name, "-"], project, stdin=data)
    check = run_subprocess(
        ["--format", "json", "--stdin-filename", name, "-"], project, stdin=result.stdout
    )
    remaining = json.loads(check.stdout)  # exit 1 exactly when findings remain after the fix
    assert result.returncode == (1 if remaining else 0), result.stderr
    return result.stdout


@pytest.fixture
def client(project: Path) -> Iterator[LspClient]:
    yield from running_server(project)


def editor_capabilities(resolve: bool = True, encodings: list[str] | None = None) -> dict[str, Any]:
    caps: dict[str, Any] = {
        "workspace": {"workspaceEdit": {"documentChanges": True}},
        "textDocument": {
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["quickfix", "source", "source.fixAll"]}
                },
                "resolveSupport": {"properties": ["edit"] if resolve else []},
            },
            "publishDiagnostics": {"versionSupport": True},
        },
    }
    if encodings is not None:
        caps["general"] = {"positionEncodings": encodings}
    return caps


def test_open_quick_fix_change_clears(project: Path, client: LspClient) -> None:
    path = project / "losses.py"
    path.write_text(BAD)
    init = client.initialize(project, editor_capabilities())
    caps = init["capabilities"]
    assert caps["positionEncoding"] == "utf-16"
    assert "documentFormattingProvider" not in caps
    assert set(caps["codeActionProvider"]["codeActionKinds"]) == {
        "quickfix",
        "source.fixAll.losslint",
    }
    published = open_document(client, path, BAD)
    [diagnostic] = published["diagnostics"]
    line = BAD.splitlines()[4]
    start = line.index("tf.reduce_mean")
    assert diagnostic["range"] == {
        "start": {"line": 4, "character": start},
        "end": {"line": 4, "character": len(line)},
    }
    assert diagnostic["code"] == "LL001"
    assert diagnostic["source"] == "losslint"
    # the same object `--format json` prints for the saved file
    cli = run_subprocess(["--format", "json", "losses.py"], project)
    assert diagnostic["data"] == json.loads(cli.stdout)[0]

    actions = [a for a in code_actions(client, path, diagnostic["range"]) if "command" not in a]
    assert [a["title"] for a in actions] == [
        "losslint (LL001): Add `axis=-1`",
        "losslint (LL001): Suppress with `# noqa: LL001`",
        "losslint: Fix all safe fixes",
    ]
    fixes = actions[:1]
    assert fixes[0]["kind"] == "quickfix" and fixes[0]["isPreferred"] is True
    assert fixes[0]["diagnostics"][0]["code"] == "LL001"
    [doc_edit] = fixes[0]["edit"]["documentChanges"]
    assert doc_edit["textDocument"] == {"uri": path.as_uri(), "version": 1}
    edits = workspace_edits(fixes[0]["edit"], path.as_uri())
    fixed = apply_edits(BAD, edits)
    assert fixed.encode() == cli_fixed(project, "losses.py", BAD.encode())
    assert change(client, path, 2, as_changes(edits))["diagnostics"] == []


def test_non_ascii_positions_in_utf16(project: Path, client: LspClient) -> None:
    path = project / "losses.py"
    client.initialize(project, editor_capabilities())
    [diagnostic] = open_document(client, path, UNICODE)["diagnostics"]
    line = UNICODE.split("\n")[5]
    assert diagnostic["range"]["start"] == {
        "line": 5,
        "character": utf16(line[: line.index("tf.reduce_mean")]),
    }
    assert diagnostic["range"]["end"] == {"line": 5, "character": utf16(line)}
    assert diagnostic["data"]["location"]["column"] == line.index("tf.reduce_mean") + 1
    [fix] = quick_fixes(code_actions(client, path, diagnostic["range"]))
    edits = workspace_edits(fix["edit"], path.as_uri())
    fixed = apply_edits(UNICODE, edits)
    assert fixed.encode() == cli_fixed(project, "losses.py", UNICODE.encode())
    # the incremental change lands after the form feed and U+2028 exactly where LSP says
    assert change(client, path, 2, as_changes(edits))["diagnostics"] == []


def test_utf8_positions_when_the_client_prefers_them(project: Path, client: LspClient) -> None:
    path = project / "losses.py"
    init = client.initialize(project, editor_capabilities(encodings=["utf-8", "utf-16"]))
    assert init["capabilities"]["positionEncoding"] == "utf-8"
    [diagnostic] = open_document(client, path, UNICODE)["diagnostics"]
    line = UNICODE.split("\n")[5]
    prefix = line[: line.index("tf.reduce_mean")]
    assert diagnostic["range"]["start"] == {"line": 5, "character": len(prefix.encode())}
    [fix] = quick_fixes(code_actions(client, path, diagnostic["range"]))
    edits = workspace_edits(fix["edit"], path.as_uri())
    assert apply_edits(UNICODE, edits, "utf-8").encode() == cli_fixed(
        project, "losses.py", UNICODE.encode()
    )
    assert change(client, path, 2, as_changes(edits))["diagnostics"] == []


def test_crlf_file(project: Path, client: LspClient) -> None:
    text = UNICODE.replace("\n", "\r\n")
    path = project / "losses.py"
    path.write_bytes(text.encode())
    client.initialize(project, editor_capabilities())
    [diagnostic] = open_document(client, path, text)["diagnostics"]
    line = text.split("\r\n")[5]
    assert diagnostic["range"] == {
        "start": {"line": 5, "character": utf16(line[: line.index("tf.reduce_mean")])},
        "end": {"line": 5, "character": utf16(line)},
    }
    [fix] = quick_fixes(code_actions(client, path, diagnostic["range"]))
    edits = workspace_edits(fix["edit"], path.as_uri())
    fixed = apply_edits(text, edits)
    assert "\r\n" in fixed and "\n" not in fixed.replace("\r\n", "")
    assert fixed.encode() == cli_fixed(project, "losses.py", text.encode())
    assert change(client, path, 2, as_changes(edits))["diagnostics"] == []


@pytest.mark.parametrize(
    ("line_end", "expected"),
    [
        ("", "  # noqa: LL001"),
        ("  # keep me", "  # keep me  # noqa: LL001"),
        ("  # noqa: E501", "  # noqa: E501, LL001"),
    ],
)
def test_noqa_action(project: Path, client: LspClient, line_end: str, expected: str) -> None:
    text = BAD.rstrip("\n") + line_end + "\n"
    path = project / "losses.py"
    client.initialize(project, editor_capabilities())
    [diagnostic] = open_document(client, path, text)["diagnostics"]
    actions = code_actions(client, path, diagnostic["range"], only=["quickfix"])
    [noqa] = [a for a in actions if "noqa" in a["title"]]
    assert noqa["title"] == "losslint (LL001): Suppress with `# noqa: LL001`"
    assert noqa["kind"] == "quickfix"
    edits = workspace_edits(noqa["edit"], path.as_uri())
    suppressed = apply_edits(text, edits)
    assert suppressed == BAD.rstrip("\n") + expected + "\n"
    assert change(client, path, 2, as_changes(edits))["diagnostics"] == []


def test_unsafe_fix_is_labelled_and_not_in_fix_all(project: Path, client: LspClient) -> None:
    path = project / "losses.py"
    client.initialize(project, editor_capabilities())
    [diagnostic] = open_document(client, path, SUM)["diagnostics"]
    actions = code_actions(client, path, diagnostic["range"])
    [fix] = quick_fixes(actions)
    assert fix["title"].endswith("(unsafe fix)")
    assert fix["isPreferred"] is False
    assert diagnostic["data"]["fix"]["applicability"] == "unsafe"
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}}
    assert code_actions(client, path, whole, only=["source.fixAll"]) == []


@pytest.mark.parametrize("resolve", [True, False])
def test_fix_all(project: Path, client: LspClient, resolve: bool) -> None:
    text = (
        BAD
        + "\n\ndef mae(y_true, y_pred):\n    return tf.reduce_mean(tf.abs(y_true - y_pred))\n"
        + SUM.split("\n\n\n")[1]
    )
    path = project / "losses.py"
    client.initialize(project, editor_capabilities(resolve=resolve))
    diagnostics = open_document(client, path, text)["diagnostics"]
    assert [d["data"]["fix"]["applicability"] for d in diagnostics] == ["safe", "safe", "unsafe"]
    cursor = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    # `source.fixAll` (what editor.codeActionsOnSave asks for) matches source.fixAll.losslint
    [action] = code_actions(client, path, cursor, only=["source.fixAll"])
    assert action["kind"] == "source.fixAll.losslint"
    if resolve:
        assert "edit" not in action
        action = client.request("codeAction/resolve", action)
    edits = workspace_edits(action["edit"], path.as_uri())
    fixed = apply_edits(text, edits)
    assert fixed.encode() == cli_fixed(project, "losses.py", text.encode())
    remaining = change(client, path, 2, as_changes(edits))["diagnostics"]
    assert [d["data"]["fix"]["applicability"] for d in remaining] == ["unsafe"]
    # a `quickfix` request gets quick fixes, never the source action
    whole = {"start": {"line": 0, "character": 0}, "end": {"line": 20, "character": 0}}
    kinds = {a["kind"] for a in code_actions(client, path, whole, only=["quickfix"])}
    assert kinds == {"quickfix"}


def test_unsaved_buffers_resolve_imports_and_save_refreshes(
    project: Path, client: LspClient
) -> None:
    good_helper = (
        "import tensorflow as tf\n\n\ndef mean_all(x):\n    return tf.reduce_mean(x, axis=-1)\n"
    )
    bad_helper = good_helper.replace(", axis=-1", "")
    (project / "helpers.py").write_text(good_helper)
    losses = project / "losses.py"
    text = (
        "import tensorflow as tf\n\nfrom helpers import mean_all\n\n\n"
        "def mse(y_true, y_pred):\n    return mean_all(tf.square(y_true - y_pred))\n"
    )
    losses.write_text(text)
    client.initialize(project, editor_capabilities())
    assert open_document(client, losses, text)["diagnostics"] == []
    # the helper's unsaved buffer is what counts, not the file on disk
    helper = project / "helpers.py"
    open_document(client, helper, good_helper)
    change(client, helper, 2, [{"text": bad_helper}])
    client.notify("textDocument/didSave", {"textDocument": {"uri": helper.as_uri()}})
    while True:
        params = client.wait_for(PUBLISH, losses.as_uri())[1]
        if params["diagnostics"]:
            break
    [diagnostic] = params["diagnostics"]
    assert "reached through this call" in diagnostic["message"]
    assert (project / "helpers.py").read_text() == good_helper


L1 = "import tensorflow as tf\n\n\ndef l1(a, b):\n    return tf.reduce_mean(tf.abs(a - b))\n"


def test_the_session_follows_created_files_and_closed_buffers(
    project: Path, client: LspClient
) -> None:
    """The server keeps one engine session: files created on disk (announced with
    didChangeWatchedFiles) join the project, and a closed buffer stops counting."""
    utils = project / "utils.py"
    utils.write_text(L1)
    client.initialize(project, editor_capabilities())
    assert open_document(client, utils, L1)["diagnostics"] == []  # `l1` is no loss yet
    train = project / "train.py"
    train.write_text("from utils import l1\n\nmodel.compile(optimizer='adam', loss=l1)\n")
    client.notify(
        "workspace/didChangeWatchedFiles",
        {"changes": [{"uri": train.as_uri(), "type": 1}]},
    )
    [finding] = client.wait_for(PUBLISH, utils.as_uri())[1]["diagnostics"]
    assert finding["code"] == "LL001" and "`l1`" in finding["message"]
    # an unsaved buffer of train.py that no longer compiles l1: the finding goes
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": train.as_uri(),
                "languageId": "python",
                "version": 1,
                "text": "from utils import l1\n",
            }
        },
    )
    client.wait_for(PUBLISH, train.as_uri())
    client.notify("textDocument/didSave", {"textDocument": {"uri": train.as_uri()}})
    while client.wait_for(PUBLISH, utils.as_uri())[1]["diagnostics"]:
        pass
    # closed: the file on disk (which compiles l1) counts again
    client.notify("textDocument/didClose", {"textDocument": {"uri": train.as_uri()}})
    client.notify("textDocument/didSave", {"textDocument": {"uri": utils.as_uri()}})
    while not client.wait_for(PUBLISH, utils.as_uri())[1]["diagnostics"]:
        pass


def test_broken_config_is_never_a_clean_result(project: Path, client: LspClient) -> None:
    (project / "pyproject.toml").write_text("[tool.losslint]\nselect = ['LL0']\nbogus = 1\n")
    client.initialize(project, editor_capabilities())
    path = project / "losses.py"
    [diagnostic] = open_document(client, path, BAD)["diagnostics"]
    assert diagnostic["severity"] == 1
    assert "invalid configuration" in diagnostic["message"] and "bogus" in diagnostic["message"]
    # shown once to the user too (it was sent before the diagnostics)
    [shown] = [m["params"] for m in client.log if m["method"] == "window/showMessage"]
    assert shown["type"] == 1 and "bogus" in shown["message"]


def test_config_and_per_file_ignores_apply(project: Path, client: LspClient) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.losslint]\nper-file-ignores = { "ignored/**" = ["LL001"] }\n'
    )
    client.initialize(project, editor_capabilities())
    assert open_document(client, project / "ignored" / "losses.py", BAD)["diagnostics"] == []
    assert len(open_document(client, project / "losses.py", BAD)["diagnostics"]) == 1


def test_close_clears_and_other_languages_are_ignored(project: Path, client: LspClient) -> None:
    client.initialize(project, editor_capabilities())
    path = project / "losses.py"
    assert len(open_document(client, path, BAD)["diagnostics"]) == 1
    client.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})
    assert client.wait_for(PUBLISH, path.as_uri())[1]["diagnostics"] == []
    notes = project / "notes.md"
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": notes.as_uri(),
                "languageId": "markdown",
                "version": 1,
                "text": BAD,
            }
        },
    )
    assert (
        code_actions(
            client,
            notes,
            {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        )
        is None
    )


def test_missing_pygls_is_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pygls', 'lsprotocol'):\n"
        '            raise ModuleNotFoundError(f"No module named {name!r}", name=name)\n'
        "        return None\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    result = subprocess.run(
        [str(SERVER)],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        input=b"",
        timeout=120,
    )
    assert result.returncode == 2
    assert b"pip install 'losslint[lsp]'" in result.stderr


def test_changes_are_debounced_and_save_lints_the_latest_text(
    project: Path, client: LspClient
) -> None:
    path = project / "losses.py"
    # a debounce far longer than the test: only the save can trigger the lint below
    client.initialize(project, editor_capabilities(), options={"debounce": 600_000})
    [diagnostic] = open_document(client, path, BAD)["diagnostics"]
    end = diagnostic["range"]["end"]
    insert = {"line": end["line"], "character": end["character"] - 1}
    for version, piece in enumerate([",", " axis", "=", "-1"], start=2):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": path.as_uri(), "version": version},
                "contentChanges": [{"range": {"start": insert, "end": insert}, "text": piece}],
            },
        )
        insert = {"line": insert["line"], "character": insert["character"] + len(piece)}
    client.notify("textDocument/didSave", {"textDocument": {"uri": path.as_uri()}})
    _, published = client.wait_for(PUBLISH, path.as_uri())
    assert published["version"] == 5
    assert published["diagnostics"] == []
    versions = [m["params"]["version"] for m in client.log if m["method"] == PUBLISH]
    assert versions == [1, 5]


def test_untitled_buffers_are_linted(project: Path, client: LspClient) -> None:
    client.initialize(project, editor_capabilities())
    uri = "untitled:Untitled-1"
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": BAD}},
    )
    [diagnostic] = client.wait_for(PUBLISH, uri)[1]["diagnostics"]
    assert diagnostic["code"] == "LL001"


@pytest.mark.runtime
def test_confirm_under_tensorflow(project: Path, client: LspClient) -> None:
    text = BAD + "\n\n" + SUM.split("\n\n\n")[1]
    path = project / "losses.py"
    path.write_text(text)
    client.initialize(project, editor_capabilities())
    diagnostics = open_document(client, path, text)["diagnostics"]
    assert [d["data"]["function"] for d in diagnostics] == ["losses.mse", "losses.sse"]
    for version, diagnostic in enumerate(diagnostics, start=1):
        actions = code_actions(client, path, diagnostic["range"])
        [confirm] = [a for a in actions if "TensorFlow" in a["title"]]
        command = confirm["command"]
        verdict = client.request(
            "workspace/executeCommand",
            {"command": command["command"], "arguments": command["arguments"]},
        )
        assert verdict["verdict"] == "confirmed", verdict
        while True:
            published = client.wait_for(PUBLISH, path.as_uri())[1]["diagnostics"]
            if sum(d["data"]["runtime"] is not None for d in published) == version:
                break
        updated = next(d for d in published if d["range"] == diagnostic["range"])
        assert updated["data"]["runtime"] == verdict
        assert updated["message"].startswith(diagnostic["message"] + " [runtime: confirmed: ")
        # a finding with a verdict is not offered again
        actions = code_actions(client, path, diagnostic["range"])
        assert not [a for a in actions if "TensorFlow" in a["title"]]
    # a verdict holds for the text it was computed on: an edit drops it
    edit = {
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
        "text": "# edited\n",
    }
    published = change(client, path, 2, [edit])["diagnostics"]
    assert [d["data"]["runtime"] for d in published] == [None, None]
    # an unsaved buffer is not what the runtime would run: no action
    assert not [
        a for a in code_actions(client, path, published[0]["range"]) if "TensorFlow" in a["title"]
    ]
