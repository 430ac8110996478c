"""`python -m kbctl` runs the CLI."""

from kbctl.cli.main import main

main()
