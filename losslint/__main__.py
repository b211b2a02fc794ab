"""`python -m losslint`."""

from losslint.cli import main

if __name__ == "__main__":
    main(prog_name="losslint")
