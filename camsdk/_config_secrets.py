"""Config files name their secrets by reference, never hold them.

The bridge, fleet and gateway config files take a password only as the name
of an environment variable (or a file); a ``password`` key written in the file
itself is refused with advice on where to put it instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

__all__ = ["password_by_reference"]


def password_by_reference(advice: str) -> Any:
    """A pydantic model validator refusing a plain ``password`` key with ``advice``.

    Assign it in the model's body: ``_no_plaintext_password = password_by_reference("...")``.
    It runs before the fields are read, so the password never reaches a field.
    """

    def refuse(cls: type[Any], data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(advice)
        return data

    return model_validator(mode="before")(classmethod(refuse))  # type: ignore[arg-type]
