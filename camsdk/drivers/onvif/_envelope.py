"""The SOAP 1.2 message layer: envelopes, WS-Security tokens, faults as typed errors.

`envelope` wraps a body with camsdk's namespace prefixes bound;
`username_token` makes the WS-Security ``UsernameToken`` with a
``PasswordDigest`` (``Base64(SHA1(nonce + created + password))``);
`fault_error` maps a SOAP 1.2 (or 1.1) fault onto the camsdk error tree:
authentication faults `AuthenticationError`, unknown operations
`UnsupportedCapabilityError`, anything else `DeviceError` with the fault's
most specific code.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from camsdk.driver import (
    AuthenticationError,
    CamError,
    DeviceError,
    UnsupportedCapabilityError,
    redact_text,
)
from camsdk.driver import xml as x

from ._ns import NS

__all__ = ["envelope", "fault_error", "username_token"]

_PASSWORD_DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
_BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'
_ENVELOPE_OPEN = "<s:Envelope " + " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items()) + ">"

_AUTH_CODES = frozenset(
    {
        "NotAuthorized",
        "NotAuthorised",
        "FailedAuthentication",
        "InvalidSecurity",
        "InvalidSecurityToken",
        "FailedCheck",
        "SecurityTokenUnavailable",
        "MessageExpired",
        "AuthorizationRequired",
        "SenderNotAuthorized",
    }
)
_UNSUPPORTED_CODES = frozenset(
    {
        "ActionNotSupported",
        "NotImplemented",
        "NoSuchService",
        "ServiceNotSupported",
        "OperationNotSupported",
        "NotSupported",
        "NoPTZProfile",
        "PTZNotSupported",
        "EventNotSupported",
    }
)


def envelope(body: str, header: str = "") -> bytes:
    """A SOAP 1.2 envelope around ``body`` (and ``header``) with camsdk's prefixes bound."""
    head = f"<s:Header>{header}</s:Header>" if header else ""
    text = f"{_XML_DECL}{_ENVELOPE_OPEN}{head}<s:Body>{body}</s:Body></s:Envelope>"
    return text.encode()


def username_token(username: str, password: str, created: datetime, nonce: bytes) -> str:
    """The WS-Security header with a PasswordDigest token."""
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(
        hashlib.sha1(nonce + stamp.encode() + password.encode()).digest()
    ).decode()
    return (
        '<wsse:Security s:mustUnderstand="1"><wsse:UsernameToken>'
        f"<wsse:Username>{x.escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{_PASSWORD_DIGEST}">{digest}</wsse:Password>'
        f'<wsse:Nonce EncodingType="{_BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{stamp}</wsu:Created>"
        "</wsse:UsernameToken></wsse:Security>"
    )


def fault_error(fault: Element, *, operation: str, url: str | None) -> CamError:
    """Map a SOAP 1.2 (or 1.1) ``Fault`` element onto the camsdk error tree."""
    codes = [x.strip_prefixes(node.text or "") for node in x.iter_named(fault, "Value")]
    codes += [x.strip_prefixes(x.text(fault, "faultcode"))]  # SOAP 1.1 firmware
    codes = [c for c in codes if c]
    reason = x.text(fault, "Reason", "Text") or x.text(fault, "faultstring")
    reason = redact_text(" ".join(reason.split()))[:200]
    specific = codes[-1] if codes else "Fault"
    chain = "/".join(codes) or "unknown"
    message = f"{operation} failed: {chain}" + (f" ({reason})" if reason else "")
    found = set(codes)
    if found & _AUTH_CODES:
        return AuthenticationError(message, scheme="onvif", url=url)
    if found & _UNSUPPORTED_CODES:
        return UnsupportedCapabilityError(message, scheme="onvif", url=url)
    return DeviceError(message, scheme="onvif", url=url, code=specific)
