"""`python -m publisher`: the Procfile's `release:` line."""

from publisher.cli import main

raise SystemExit(main())
