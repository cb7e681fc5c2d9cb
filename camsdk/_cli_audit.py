"""``camsdk audit verify``, ``report`` and ``merge``: check, summarise and join audit logs.

`add_audit_commands` adds the ``audit`` command to the main parser. Each
sub-command stores its handler as ``func``; the handler takes the parsed
namespace and returns the exit code: 0 ok, 1 broken log (verify), 2 usage
(missing file, unreadable key or checkpoint file, no sub-command).
Argparse's own usage errors exit with 2 as well. Warnings (a log file that
others may write) go to stderr and do not change the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ._cli_groups import EXIT_USAGE, add_command_group

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["add_audit_commands"]

EXIT_OK, EXIT_BROKEN = 0, 1


def add_audit_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit verify FILE [--key K] [--checkpoint C]`` and ``audit report FILE ...``."""
    commands = add_command_group(
        subparsers, "audit",
        help="verify or summarise a hash-chained audit log",
        description="Verify or summarise an audit log written by camsdk.privacy.AuditLog.",
        metavar="{verify,report,merge}",
    )

    verify = commands.add_parser(
        "verify",
        help="check the hash chain (and checkpoint signatures with --key)",
        description=(
            "Exit 0 when the log verifies, 1 with the first broken line otherwise. "
            "Cutting whole lines off the end is invisible in the file alone: "
            "--checkpoint compares it with a checkpoint kept elsewhere."
        ),
    )
    verify.add_argument("file", type=Path, help="the audit log (JSONL)")
    verify.add_argument(
        "--key",
        metavar="PUBKEY",
        type=Path,
        help="Ed25519 public key file (PEM or raw) that signed the checkpoints",
    )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        type=Path,
        help="a checkpoint mirror (CheckpointMirror file): the log must still hold that line",
    )
    verify.set_defaults(func=_cmd_verify)

    report = commands.add_parser(
        "report",
        help="who accessed which camera, for what, how much",
        description="Summarise access records; does not verify the chain (use verify).",
    )
    report.add_argument("file", type=Path, help="the audit log (JSONL)")
    report.add_argument(
        "--since", type=_iso_time, metavar="ISO", help="only records at or after this time"
    )
    report.add_argument("--principal", metavar="P", help="only records of this principal id")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(func=_cmd_report)

    merge = commands.add_parser(
        "merge",
        help="verify several logs (e.g. one per node) and merge them by time",
        description=(
            "Verify every input (files, or directories of *.jsonl), then merge their records "
            "by time stamp. Each merged record names its origin (file, seq, ts, line hash). "
            "Exit 1 when an input is broken (nothing is merged then)."
        ),
    )
    merge.add_argument("paths", nargs="+", type=Path, help="audit logs or directories of them")
    merge.add_argument("-o", "--output", type=Path,
                       help="write the merge as a new hash-chained log (default: JSON lines "
                            "on stdout)")
    merge.add_argument("--key", metavar="PUBKEY", type=Path,
                       help="Ed25519 public key that must have signed every input's checkpoints")
    merge.set_defaults(func=_cmd_merge)


def _iso_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    # A time without zone is taken as UTC, like every time in the log.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _fail(message: str) -> int:
    print(f"camsdk audit: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _public_key(path: Path | None) -> tuple[Ed25519PublicKey | None, str]:
    """The ``--key`` file's public key (None without one), or why it cannot be read."""
    from .privacy import load_public_key

    if path is None:
        return None, ""
    try:
        return load_public_key(path), ""
    except (OSError, ValueError) as exc:
        return None, f"cannot read public key {str(path)!r}: {exc}"


def _cmd_verify(args: argparse.Namespace) -> int:
    from .privacy import CheckpointMirror, verify_audit_log
    from .privacy._audit._verify import writable_by_others

    public_key, problem = _public_key(args.key)
    if problem:
        return _fail(problem)
    head = None
    warnings: list[str] = []
    if args.checkpoint is not None:
        mirror = CheckpointMirror(args.checkpoint)
        try:
            head = mirror.read()
            warning = writable_by_others(args.checkpoint.stat().st_mode, "checkpoint file")
        except OSError as exc:
            return _fail(f"cannot read checkpoint {str(args.checkpoint)!r}: {exc.strerror or exc}")
        except ValueError as exc:
            return _fail(f"{str(args.checkpoint)!r} is not a checkpoint: {exc}")
        warnings += [warning] if warning else []
    try:
        result = verify_audit_log(args.file, public_key, expected_head=head)
    except OSError as exc:
        return _fail(f"cannot read {str(args.file)!r}: {exc.strerror or exc}")
    for warning in (*result.warnings, *warnings):
        print(f"camsdk audit: warning: {warning}", file=sys.stderr)
    if not result.ok:
        print(f"BROKEN at line {result.first_broken_line}: {result.reason}")
        print(f"{result.records} record(s) verified before it")
        return EXIT_BROKEN
    signed = f", signed through line {result.signed_through}" if public_key is not None else ""
    print(
        f"OK: {result.records} record(s), {result.checkpoints} checkpoint(s){signed}; "
        f"{result.reason}"
    )
    if head is None:
        # Say what the file alone cannot show, and what to keep to show it next time.
        last = result.last_checkpoint
        kept = f" (last checkpoint: line {last.seq}, sha256 {last.digest})" if last else ""
        print(f"not checked: lines cut off the end (use --checkpoint){kept}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from .privacy import audit_report

    try:
        report = audit_report(args.file, since=args.since, principal=args.principal)
    except OSError as exc:
        return _fail(f"cannot read {str(args.file)!r}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(
        f"{report.records} record(s) from {report.first_ts or '-'} to {report.last_ts or '-'}: "
        f"{report.allowed} allowed, {report.denied} denied"
    )
    if report.unreadable_lines:
        print(f"{report.unreadable_lines} unreadable line(s) skipped; run `camsdk audit verify`")
    header = ("PRINCIPAL", "CAMERA", "PURPOSES", "ALLOWED", "DENIED", "BYTES", "FRAMES", "SECONDS")
    rows = [
        (
            e.principal or "-",
            e.camera_id or "-",
            ",".join(sorted(p or "-" for p in e.purposes)) or "-",
            str(e.allowed),
            str(e.denied),
            str(e.bytes),
            str(e.frames),
            f"{e.duration:.1f}",
        )
        for e in report.entries
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _cmd_merge(args: argparse.Namespace) -> int:
    from .privacy import merge_audit_logs

    public_key, problem = _public_key(args.key)
    if problem:
        return _fail(problem)
    try:
        verdict, records = merge_audit_logs(args.paths, args.output, public_key=public_key)
    except FileExistsError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read {exc.filename!r}: {exc.strerror or exc}")
    if not verdict.ok:
        print(f"BROKEN: {verdict.reason}", file=sys.stderr)
        return EXIT_BROKEN
    if args.output is None:
        for record in records:
            print(json.dumps(record.as_record(), ensure_ascii=False, sort_keys=True))
    else:
        print(f"OK: {verdict.records} record(s) from {len(verdict.inputs)} log(s) -> "
              f"{args.output}", file=sys.stderr)
    return EXIT_OK
