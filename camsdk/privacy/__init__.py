"""Owner control: who may see which camera, for what, until when, and the proof of it.

* Policies decide every egress: `GrantPolicy` (the owner may do everything,
  anyone else needs a matching, unexpired, unrevoked `Grant`) and
  `DenyByDefault`. Grants can be Ed25519-signed (`sign_grant`) and a policy
  can be told to trust only signed ones; `RevocationList` ends grants early,
  live streams included.
* The audit trail: `AuditLog`, an append-only, hash-chained JSONL file with
  signed checkpoints, checked by `verify_audit_log` (``camsdk audit verify``)
  and summarised by `audit_report`; `merge_audit_logs` (``camsdk audit
  merge``) joins per-node logs into one view; a `CheckpointMirror` keeps the newest
  checkpoint elsewhere so that a log cut short is caught; plus logger,
  memory, callback and fail-open sinks.
* Privacy masks: `PrivacyMask` polygons, applied to decoded frames, arrays
  and JPEG snapshots by `MaskSet`.

See ``docs/privacy.md`` for the model in plain words and a worked example.
"""

from __future__ import annotations

from ._audit import (
    AuditHead,
    AuditLog,
    AuditLogError,
    AuditVerification,
    CheckpointSink,
    verify_audit_log,
)
from ._grants import ANY, Grant, RevocationList, load_grants, save_grants, sign_grant, verify_grant
from ._keys import (
    generate_signing_key,
    key_id,
    load_private_key,
    load_public_key,
    save_private_key,
    save_public_key,
)
from ._masks import MaskSet, PrivacyMask
from ._merge import AuditMerge, MergedRecord, merge_audit_logs
from ._policy import DenyByDefault, GrantPolicy
from ._records import sanitize_record
from ._report import AccessSummary, AuditReport, audit_report
from ._sinks import (
    CallbackAuditSink,
    CheckpointMirror,
    FailOpenSink,
    JsonlAuditSink,
    LoggerAuditSink,
    MemoryAuditSink,
)

__all__ = [
    "ANY",
    "AccessSummary",
    "AuditHead",
    "AuditLog",
    "AuditLogError",
    "AuditMerge",
    "AuditReport",
    "AuditVerification",
    "CallbackAuditSink",
    "CheckpointMirror",
    "CheckpointSink",
    "DenyByDefault",
    "FailOpenSink",
    "Grant",
    "GrantPolicy",
    "JsonlAuditSink",
    "LoggerAuditSink",
    "MaskSet",
    "MemoryAuditSink",
    "MergedRecord",
    "PrivacyMask",
    "RevocationList",
    "audit_report",
    "generate_signing_key",
    "key_id",
    "load_grants",
    "load_private_key",
    "load_public_key",
    "merge_audit_logs",
    "sanitize_record",
    "save_grants",
    "save_private_key",
    "save_public_key",
    "sign_grant",
    "verify_audit_log",
    "verify_grant",
]
