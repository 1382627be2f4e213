"""One module per ``plume`` subcommand group; each exposes ``register(subparsers)``."""
