"""The subcommands of the ``farm`` console script, one module each."""
