"""Fixtures every OSINT test folder shares: the ``krsn`` command run in-process (``cli``)."""

from cli_support import Cli, cli

__all__ = ["Cli", "cli"]
