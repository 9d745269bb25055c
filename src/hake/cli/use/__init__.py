"""Commands for using hake: infer, explain, serve, models, vocab.
May import everything below the CLI, and hake.cli.apps / hake.cli.common."""
