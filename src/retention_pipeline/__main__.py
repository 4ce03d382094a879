"""``python -m retention_pipeline`` runs the command line."""

from retention_pipeline.cli.main import run

run()
