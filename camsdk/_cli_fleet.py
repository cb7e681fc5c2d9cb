"""``camsdk fleet up|status|down SITE.toml``: run a camera fleet on an existing Ray cluster.

`add_fleet_commands` adds the ``fleet`` command to the main parser. Ray is
imported only when a fleet command runs; without the ``ray`` extra the
command says how to install it (exit 2). Exit codes: 0 ok, 1 some cameras
could not be placed (no alive node has their labels), 2 usage or config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ._cli_groups import EXIT_USAGE, add_command_group

__all__ = ["add_fleet_commands"]

EXIT_OK, EXIT_UNPLACED = 0, 1


def add_fleet_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``fleet up``, ``fleet status`` and ``fleet down``."""
    commands = add_command_group(
        subparsers, "fleet",
        help="run cameras as Ray actors across a cluster (extra: ray)",
        description="Start, inspect or stop a camera fleet on a Ray cluster (docs/scaling.md).",
        metavar="{up,status,down}",
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("config", type=Path, help="the fleet config (site.toml)")
        parser.add_argument("--address", default="auto",
                            help="the Ray cluster to join (default: auto, the local one)")
        return parser

    up = command("up", "place every camera on the cluster and return (the fleet keeps running)")
    up.add_argument("--timeout", type=float, default=120.0,
                    help="seconds to wait for the cameras to be placed")
    up.set_defaults(func=_cmd_up)
    status = command("status", "show where each camera runs")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(func=_cmd_status)
    down = command("down", "stop the supervisor, every camera actor and account actor")
    down.set_defaults(func=_cmd_down)


def _fleet(args: argparse.Namespace) -> Any:
    try:
        from .ray import Fleet
    except ImportError as exc:
        print(f"camsdk fleet: error: {exc}", file=sys.stderr)
        return None
    return Fleet(args.config, address=args.address)


def _table(placement: dict[str, str]) -> None:
    width = max((len(name) for name in placement), default=6)
    print(f"{'CAMERA':<{width}}  NODE")
    for name, node in sorted(placement.items()):
        print(f"{name:<{width}}  {node[:16]}")


async def _cmd_up(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    if fleet is None:
        return EXIT_USAGE
    async with fleet:
        placement = await fleet.up(timeout=args.timeout)
    _table(placement)
    missing = sorted(c.name for c in fleet.config.cameras if c.name not in placement)
    if missing:
        print(f"not placed (no alive node has their labels): {', '.join(missing)}",
              file=sys.stderr)
        return EXIT_UNPLACED
    return EXIT_OK


async def _cmd_status(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    if fleet is None:
        return EXIT_USAGE
    async with fleet:
        try:
            status = await fleet.status()
            placement = await fleet.placement()
        except ValueError:
            print("camsdk fleet: the fleet is not running (camsdk fleet up)", file=sys.stderr)
            return EXIT_UNPLACED
    if args.json:
        print(json.dumps({"cameras": placement, "moves": status["moves"],
                          "nodes": status["nodes"]}, indent=2))
        return EXIT_OK
    _table(placement)
    moves = ", ".join(f"{k} {v}" for k, v in status["moves"].items())
    print(f"{len(status['nodes'])} node(s); moves: {moves}")
    return EXIT_OK


async def _cmd_down(args: argparse.Namespace) -> int:
    fleet = _fleet(args)
    if fleet is None:
        return EXIT_USAGE
    async with fleet:
        await fleet.down()
    print(f"fleet {fleet.config.fleet.name!r} stopped")
    return EXIT_OK
