"""Allow ``python -m mllint``."""

from mllint.cli import main

raise SystemExit(main())
