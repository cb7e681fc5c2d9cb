"""A simulated UniFi Protect console for tests and benchmarks (`UnifiConsole`)."""

from ._console import UnifiConsole

__all__ = ["UnifiConsole"]
