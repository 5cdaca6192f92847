"""Where a login may send the browser afterwards: a path on this site, nothing else.

`?next=` comes from the address bar, so it is attacker-controlled: an absolute URL, a
scheme-relative `//evil.example`, a backslash that browsers read as a slash, or control
characters would all lead off-site. Anything but a plain same-site path becomes `DEFAULT`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from gateway.keys import SETTINGS

DEFAULT = "/console/"


def safe_next(target: str | None) -> str:
    if not target or len(target) > 2000:
        return DEFAULT
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DEFAULT
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return DEFAULT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return DEFAULT
    return target


def external_base(request: web.Request) -> str:
    """This gateway's base URL as browsers reach it: `server.public_url`, else the request's."""
    public = request.app[SETTINGS].server.public_url
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"
