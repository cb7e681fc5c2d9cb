"""A vendor's refresh call for the account-actor tests (imported by the actor by name)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from camsdk.cloud import TokenSet


async def refresh(tokens: TokenSet) -> TokenSet:
    """Rotate both tokens; the new access token lives an hour."""
    generation = tokens.generation + 1
    return tokens.rotated(
        access_token=SecretStr(f"access-{generation}"),
        refresh_token=SecretStr(f"refresh-{generation}"),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
