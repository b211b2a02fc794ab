"""A minimal LSP client over stdio, as an editor drives a server: JSON-RPC with
Content-Length framing, requests, notifications and the server's notifications; an open
notebook as an editor syncs it (`NotebookEditor`).

Used by tests/test_lsp.py, tests/test_lsp_notebook.py and the LSP benchmarks (bench/) against
the real `losslint-lsp` process.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

PUBLISH = "textDocument/publishDiagnostics"
CODE, MARKUP = 2, 1  # NotebookCellKind
TIMEOUT = 120.0  # seconds: generous, so a loaded 2-core machine never fails a test


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """One framed message, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        raise ValueError("a message without Content-Length")
    body = stream.read(length)
    return json.loads(body.decode("utf-8"))


class LspClient:
    """Starts `command`, speaks LSP on its stdin/stdout, and collects what it sends."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.next_id = 0
        self.responses: dict[int, dict[str, Any]] = {}
        self.notifications: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.requests: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []  # every notification received, in order
        self.lock = threading.Condition()
        self.stderr = b""
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            message = read_message(self.process.stdout)
            if message is None:
                with self.lock:
                    self.closed = True
                    self.lock.notify_all()
                break
            received = time.perf_counter()
            if "method" in message and "id" in message:  # a request from the server
                self.requests.append(message)
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "method" in message:
                self.log.append(message)
                self.notifications.put((received, message))
            else:
                with self.lock:
                    self.responses[message["id"]] = message
                    self.lock.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr += line

    def _send(self, message: dict[str, Any]) -> float:
        body = json.dumps(message).encode("utf-8")
        assert self.process.stdin is not None
        sent = time.perf_counter()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return sent

    def notify(self, method: str, params: Any) -> float:
        """Send a notification; returns when it was sent (perf_counter)."""
        return self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        """Send a request and wait for its result (an error response raises)."""
        self.next_id += 1
        msg_id = self.next_id
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        deadline = time.monotonic() + TIMEOUT
        with self.lock:
            while msg_id not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"no response to {method}; stderr: {self.stderr!r}")
                self.lock.wait(left)
            response = self.responses.pop(msg_id)
        if "error" in response:
            raise RuntimeError(f"{method} failed: {response['error']}")
        return response.get("result")

    def wait_for(self, method: str, uri: str | None = None) -> tuple[float, dict[str, Any]]:
        """The next notification `method` (for `uri`); others are dropped. (time, params)"""
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} for {uri}; stderr: {self.stderr!r}")
            try:
                received, message = self.notifications.get(timeout=left)
            except queue.Empty:
                continue
            params = message.get("params") or {}
            if message["method"] == method and (uri is None or params.get("uri") == uri):
                return received, params

    def initialize(
        self, root: Path, capabilities: dict[str, Any] | None = None, options: Any = None
    ) -> dict[str, Any]:
        result = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": capabilities if capabilities is not None else {},
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        return result

    def close(self) -> int:
        """Shut the server down as an editor does; returns its exit code."""
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            return self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


SERVER = Path(sys.executable).with_name("losslint-lsp")


def running_server(project: Path) -> Iterator[LspClient]:
    """A `losslint-lsp` subprocess driven over stdio (a pytest fixture's body): it must exit 0."""
    assert SERVER.exists(), "losslint-lsp is not installed (pip install -e '.[dev]')"
    lsp = LspClient([str(SERVER)], project)
    yield lsp
    if lsp.process.poll() is None:
        assert lsp.close() == 0


def apply_edits(text: str, edits: list[dict[str, Any]], encoding: str = "utf-16") -> str:
    """Apply LSP TextEdits to a text as an editor does (positions in `encoding` units).

    Lines break at CRLF, CR or LF; all edits refer to the original text.
    """

    starts = [0, *(m.end() for m in re.finditer(r"\r\n|\r|\n", text))]

    def offset(position: dict[str, int]) -> int:
        line, character = position["line"], position["character"]
        if line >= len(starts):
            return len(text)
        start = starts[line]
        end = starts[line + 1] if line + 1 < len(starts) else len(text)
        content = text[start:end].rstrip("\r\n")
        count = 0
        for i, ch in enumerate(content):
            if count >= character:
                return start + i
            if encoding == "utf-16":
                count += 2 if ord(ch) > 0xFFFF else 1
            elif encoding == "utf-8":
                count += len(ch.encode("utf-8"))
            else:
                count += 1
        return start + len(content)

    spans = sorted(
        ((offset(e["range"]["start"]), offset(e["range"]["end"]), e["newText"]) for e in edits),
        reverse=True,
    )
    for lo, hi, new in spans:
        text = text[:lo] + new + text[hi:]
    return text


def workspace_edits(edit: dict[str, Any], uri: str) -> list[dict[str, Any]]:
    """The TextEdits for `uri` in a WorkspaceEdit (`changes` or `documentChanges`)."""
    if edit.get("documentChanges"):
        return [
            e
            for change in edit["documentChanges"]
            if change["textDocument"]["uri"] == uri
            for e in change["edits"]
        ]
    return list(edit.get("changes", {}).get(uri, []))


def notebook_capabilities() -> dict[str, Any]:
    """What an editor with notebook support announces (VS Code does)."""
    return {
        "workspace": {"workspaceEdit": {"documentChanges": True}},
        "textDocument": {
            "codeAction": {
                "codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["quickfix", "source", "source.fixAll"]}
                },
                "resolveSupport": {"properties": ["edit"]},
            },
            "publishDiagnostics": {"versionSupport": True},
        },
        "notebookDocument": {"synchronization": {"executionSummarySupport": False}},
    }


class NotebookEditor:
    """An editor's open notebook (LSP notebook synchronisation as VS Code sends it): cells
    with URIs, kinds, texts and versions, and the notifications that change them."""

    def __init__(self, client: LspClient, path: Path, cells: list[tuple[int, str]]) -> None:
        self.client = client
        self.path = path
        self.uri = path.as_uri()
        self.version = 1
        self.cells = [self._cell(kind, text, n) for n, (kind, text) in enumerate(cells)]
        self.counter = len(cells)

    def _cell(self, kind: int, text: str, number: int) -> dict[str, Any]:
        # a VS Code cell URI: the notebook's path, a fragment per cell
        uri = f"vscode-notebook-cell:{self.path.as_posix()}#W{number}sZmlsZQ%3D%3D"
        return {"uri": uri, "kind": kind, "text": text, "version": 1}

    def item(self, cell: dict[str, Any]) -> dict[str, Any]:
        language = "python" if cell["kind"] == CODE else "markdown"
        return {
            "uri": cell["uri"],
            "languageId": language,
            "version": cell["version"],
            "text": cell["text"],
        }

    def open(self) -> None:
        self.client.notify(
            "notebookDocument/didOpen",
            {
                "notebookDocument": {
                    "uri": self.uri,
                    "notebookType": "jupyter-notebook",
                    "version": self.version,
                    "cells": [{"kind": c["kind"], "document": c["uri"]} for c in self.cells],
                },
                "cellTextDocuments": [self.item(c) for c in self.cells],
            },
        )

    def change(self, change: dict[str, Any]) -> None:
        self.version += 1
        self.client.notify(
            "notebookDocument/didChange",
            {"notebookDocument": {"uri": self.uri, "version": self.version}, "change": change},
        )

    def edit(self, number: int, edits: list[dict[str, Any]]) -> None:
        """Apply TextEdits to a cell (1-based) as the editor does, and send them."""
        cell = self.cells[number - 1]
        cell["text"] = apply_edits(cell["text"], edits)
        cell["version"] += 1
        ordered = sorted(
            edits,
            key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
            reverse=True,
        )
        self.change(
            {
                "cells": {
                    "textContent": [
                        {
                            "document": {"uri": cell["uri"], "version": cell["version"]},
                            "changes": [
                                {"range": e["range"], "text": e["newText"]} for e in ordered
                            ],
                        }
                    ]
                }
            }
        )

    def insert(self, at: int, kind: int, text: str) -> dict[str, Any]:
        """Insert a cell before 0-based position `at` (a structure change)."""
        cell = self._cell(kind, text, self.counter)
        self.counter += 1
        self.cells.insert(at, cell)
        self.change(
            {
                "cells": {
                    "structure": {
                        "array": {
                            "start": at,
                            "deleteCount": 0,
                            "cells": [{"kind": kind, "document": cell["uri"]}],
                        },
                        "didOpen": [self.item(cell)],
                    }
                }
            }
        )
        return cell

    def delete(self, at: int) -> dict[str, Any]:
        cell = self.cells.pop(at)
        self.change(
            {
                "cells": {
                    "structure": {
                        "array": {"start": at, "deleteCount": 1},
                        "didClose": [{"uri": cell["uri"]}],
                    }
                }
            }
        )
        return cell

    def diagnostics(self, number: int) -> list[dict[str, Any]]:
        """The diagnostics published next for cell `number` (1-based) at its current version."""
        cell = self.cells[number - 1]
        while True:
            params = self.client.wait_for(PUBLISH, cell["uri"])[1]
            if params.get("version") == cell["version"]:
                return params["diagnostics"]

    def code_actions(self, number: int, rng: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": self.cells[number - 1]["uri"]},
                "range": rng,
                "context": {"diagnostics": []},
            },
        )
