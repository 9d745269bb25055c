"""Commands that build data and models: data synth/stats/keypoints, train a2v/pasta-r, features, export.
May import everything below the CLI, and hake.cli.apps / hake.cli.common."""
