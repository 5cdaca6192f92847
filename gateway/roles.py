"""Roles as path patterns: a key may call a path its role includes and does not exclude.

Patterns are prefixes ending in `/**` (the path and everything below) or exact paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    included: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    may_create_keys: bool = False

    def allows(self, path: str) -> bool:
        return _matches(self.included, path) and not _matches(self.excluded, path)


def _matches(patterns: tuple[str, ...], path: str) -> bool:
    for pattern in patterns:
        if pattern.endswith("/**"):
            base = pattern[:-3]
            if path == base or path.startswith(base + "/"):
                return True
        elif path == pattern:
            return True
    return False


ROLES: dict[str, Role] = {
    "low": Role("low", ("/v1/**",), ("/v1/apikey/children/**",)),
    "high": Role("high", ("/v1/**",), may_create_keys=True),
    "console": Role("console", ("/v1/**", "/console/**"), may_create_keys=True),
    "all": Role("all", ("/**",), may_create_keys=True),
}


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise ValueError(f"unknown role {name!r}; one of {', '.join(ROLES)}") from None
