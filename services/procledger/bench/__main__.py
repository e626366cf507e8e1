"""`python -m procledger.bench`: see procledger.bench.runner."""

from procledger.bench.runner import main

raise SystemExit(main())
