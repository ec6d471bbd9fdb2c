"""`python -m bot` runs the same command line as the `holdspace` script."""

from bot.cli import main

raise SystemExit(main())
