"""Roles as path patterns: a key may call a path its role includes and does not exclude.

Patterns are prefixes ending in `/**` (the path and everything below) or exact paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Patterns:
    """Patterns compiled for one lookup and one `startswith` per path."""

    exact: frozenset[str]  # exact paths, and the bases of `/**` patterns
    prefixes: tuple[str, ...]  # `base/` of each `/**` pattern

    @classmethod
    def of(cls, patterns: tuple[str, ...]) -> Patterns:
        bases = [p[:-3] for p in patterns if p.endswith("/**")]
        exact = [p for p in patterns if not p.endswith("/**")]
        return cls(frozenset([*exact, *bases]), tuple(f"{base}/" for base in bases))

    def match(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    included: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    may_create_keys: bool = False
    _included: Patterns = field(init=False, repr=False, compare=False)
    _excluded: Patterns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_included", Patterns.of(self.included))
        object.__setattr__(self, "_excluded", Patterns.of(self.excluded))

    def allows(self, path: str) -> bool:
        return self._included.match(path) and not self._excluded.match(path)


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
