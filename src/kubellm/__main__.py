"""`python -m kubellm` runs the CLI."""

from kubellm.cli.app import main

main()
