"""Errors that end the program with a one-line cause and exit code 2."""

from __future__ import annotations


class HoldspaceError(Exception):
    """A problem the operator must fix: the CLI prints str(err) in one line and exits with code 2."""
