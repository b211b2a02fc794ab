"""`python -m losslint`, and the `losslint` command."""

import sys


def run() -> None:
    """The command line: `--version` alone is answered before the option parser (click) is
    imported, since start-up is all of that run; everything else is `losslint.cli.main`."""
    if sys.argv[1:] == ["--version"]:
        from losslint import __version__

        sys.stdout.write(f"losslint, version {__version__}\n")
        return
    import gc

    # a one-shot run: the analysis makes millions of objects and next to no reference
    # cycles (losslint/engine/collector.py), so the cyclic collector stays off from the
    # start (imports benefit too); `main` freezes what is left at exit
    gc.disable()
    from losslint.cli import main

    main(prog_name="losslint")


if __name__ == "__main__":
    run()
