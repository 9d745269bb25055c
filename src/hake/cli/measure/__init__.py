"""Commands that measure: eval (official protocols) and the benchmark commands.
May import everything below the CLI, and hake.cli.apps / hake.cli.common."""
