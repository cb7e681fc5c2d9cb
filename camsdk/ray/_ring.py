"""`HashRing`: consistent hashing with virtual nodes, so a changing cluster moves few cameras.

Each node owns ``vnodes`` points on a 64-bit ring, taken from SHA-256 of its
id; a key belongs to the first point clockwise from the key's own hash whose
node is eligible for it. A node's points depend on its id alone, so adding a
node takes over only the keys that now fall just before its points (about
1/N of them) and removing one hands only its own keys to their next owners.
Eligibility (labels: the nodes that reach a site's LAN, the nodes with a GPU)
is a filter on the walk, so the same ring serves every label set and stays
consistent within each.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable

__all__ = ["HashRing", "ring_hash"]

_DEFAULT_VNODES = 64


def ring_hash(text: str) -> int:
    """A stable 64-bit position for ``text`` (the same in every process, host and Python)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


class HashRing:
    """Nodes on a consistent-hash ring; `owner` says which node a key belongs to."""

    def __init__(self, nodes: Iterable[str] = (), *, vnodes: int = _DEFAULT_VNODES) -> None:
        if vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        self.vnodes = vnodes
        self._points: list[int] = []
        self._owners: list[str] = []
        self._nodes: set[str] = set()
        for node in nodes:
            self.add(node)

    def __repr__(self) -> str:
        return f"HashRing({len(self._nodes)} nodes, vnodes={self.vnodes})"

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    @property
    def nodes(self) -> frozenset[str]:
        """The nodes on the ring."""
        return frozenset(self._nodes)

    def add(self, node: str) -> None:
        """Put ``node``'s virtual points on the ring (no-op if it is there)."""
        if not node:
            raise ValueError("a node id must not be empty")
        if node in self._nodes:
            return
        self._nodes.add(node)
        for index in range(self.vnodes):
            point = ring_hash(f"{node}#{index}")
            at = bisect.bisect_left(self._points, point)
            # Ties (astronomically rare) are ordered by node id, so every process agrees.
            while at < len(self._points) and self._points[at] == point and self._owners[at] < node:
                at += 1
            self._points.insert(at, point)
            self._owners.insert(at, node)

    def remove(self, node: str) -> None:
        """Take ``node`` off the ring (no-op if absent)."""
        if node not in self._nodes:
            return
        self._nodes.discard(node)
        keep = [(p, o) for p, o in zip(self._points, self._owners, strict=True) if o != node]
        self._points = [p for p, _ in keep]
        self._owners = [o for _, o in keep]

    def owners(
        self, key: str, count: int | None = None, *, eligible: Callable[[str], bool] | None = None
    ) -> list[str]:
        """Distinct eligible nodes in ring order from ``key``: the owner first, then fallbacks."""
        if not self._points:
            return []
        wanted = len(self._nodes) if count is None else count
        start = bisect.bisect_right(self._points, ring_hash(key))
        found: list[str] = []
        seen: set[str] = set()
        size = len(self._points)
        for step in range(size):
            node = self._owners[(start + step) % size]
            if node in seen:
                continue
            seen.add(node)
            if eligible is None or eligible(node):
                found.append(node)
                if len(found) >= wanted:
                    break
            if len(seen) == len(self._nodes):
                break
        return found

    def owner(self, key: str, *, eligible: Callable[[str], bool] | None = None) -> str | None:
        """The node ``key`` belongs to, or ``None`` when no node is eligible."""
        found = self.owners(key, 1, eligible=eligible)
        return found[0] if found else None
