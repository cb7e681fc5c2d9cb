"""The append-only, hash-chained audit log (JSONL), its verifier, and what keeps it honest.

Line format. Each line is one JSON object::

    {"seq":N,"ts":"<UTC ISO>","prev":"<hex>",<record fields>,"hash":"<hex>"}

``seq`` is 1-based and equals the line number; ``ts`` is UTC with
microseconds; ``prev`` is SHA-256 of the previous line's exact bytes (newline
excluded; 64 zeros on the first line); the record fields follow in canonical
JSON (sorted keys, compact, UTF-8); ``hash`` is SHA-256 of the line without
its hash field, i.e. of ``BODY`` where the line is ``BODY[:-1] + ',"hash":"<hex>"}'``.
Any changed byte fails its own line, and a removed, inserted or reordered
line fails the ``prev`` of the line after it. The verifier accepts a line
only in exactly the form the writer gives it (`_format`), so the bytes the
chain covers and the fields anyone reads from them are the same.

Checkpoints are lines whose fields are ``"type": "checkpoint"`` and
``"version": 2``, written every ``checkpoint_every`` records and on
`AuditLog.close`; with a signing key they carry ``key_id`` and an Ed25519
``signature`` over the line's own bytes without the signature, ``seq`` and
``prev`` (the chain head they vouch for) included. A hash chain alone proves
integrity only against someone who cannot rewrite the whole file; the
signatures add authenticity up to the last checkpoint; a copy of the newest
checkpoint kept elsewhere (`CheckpointMirror`, ``expected_head``) adds that the
log was not cut back to an earlier one.

Modules: `_format` (sealing, strict parsing, checkpoint signatures),
`_writer` (`AuditLog`), `_verify` (`verify_audit_log`).
"""

from __future__ import annotations

from ._format import GENESIS, MAX_LINE_BYTES, AuditHead
from ._verify import AuditVerification, verify_audit_log
from ._writer import AuditLog, AuditLogError, CheckpointSink

__all__ = [
    "GENESIS",
    "MAX_LINE_BYTES",
    "AuditHead",
    "AuditLog",
    "AuditLogError",
    "AuditVerification",
    "CheckpointSink",
    "verify_audit_log",
]
