"""Command groups of the ``camsdk`` CLI (``audit``, ``fleet``, ``export``): usage without a verb."""

from __future__ import annotations

import argparse
import sys

__all__ = ["EXIT_USAGE", "add_command_group"]

#: The exit code of a usage error (argparse's own as well).
EXIT_USAGE = 2


def add_command_group(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str | None = None,
    metavar: str,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add command ``name`` whose verbs go in the returned subparsers.

    ``camsdk <name>`` without a verb prints the group's help on stderr and
    exits with `EXIT_USAGE`. ``metavar`` lists the verbs, e.g. ``"{up,down}"``.
    """
    group = subparsers.add_parser(name, help=help, description=description)
    group.set_defaults(func=lambda args: _usage(group))
    return group.add_subparsers(dest=f"{name}_command", metavar=metavar)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE
