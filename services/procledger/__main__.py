"""`python -m procledger`: the same command as `procledger`, for when the script is not on PATH."""

import sys

from procledger.entrypoints.cli.main import main

sys.exit(main())
