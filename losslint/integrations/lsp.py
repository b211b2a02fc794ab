"""`losslint-lsp`: losslint as a Language Server over stdio (needs the `lsp` extra, pygls).

The server itself is in `lsp_server`; this entry point only checks that pygls is installed,
so a missing extra is a one-line error (exit 2) rather than a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from losslint import __version__

EXIT_ERROR = 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="losslint-lsp",
        description="losslint's Language Server: diagnostics and quick fixes over stdio.",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="use stdin/stdout (the default and only transport)"
    )
    parser.add_argument("--log-file", type=Path, help="write the server's log here")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (default: WARNING; the log goes to stderr without --log-file)",
    )
    parser.add_argument("--version", action="version", version=f"losslint-lsp {__version__}")
    args = parser.parse_args(argv)
    try:
        from losslint.integrations.lsp_server import serve
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        print("error: losslint-lsp needs pygls: pip install 'losslint[lsp]'", file=sys.stderr)
        sys.exit(EXIT_ERROR)

    serve(log_file=args.log_file, log_level=args.log_level)


if __name__ == "__main__":  # pragma: no cover
    main()
