"""`python -m procledger_dev.bench`: see procledger_dev.bench.runner."""

from procledger_dev.bench.runner import main

raise SystemExit(main())
