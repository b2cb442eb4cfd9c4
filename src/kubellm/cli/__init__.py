"""The kubellm command line: Typer commands, one module per command group. The only layer that prints."""
