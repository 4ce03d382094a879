"""``python -m retention_pipeline`` runs the command line."""

import sys

from retention_pipeline.cli.main import main

sys.exit(main())
