"""`nginx -t` on the site, inside a throwaway config (the system nginx is never touched)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.deploy.tools import require

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "bella-gateway.conf"


def test_the_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = require("nginx", "nginx", "the nginx site is checked with nginx -t")
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"pid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'};\n"
        "events {}\n"
        "http {\n"
        "    access_log off;\n"
        f"{temp}\n"
        f"    include {SITE};\n"
        "}\n"
    )
    done = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", str(config), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    site = SITE.read_text()
    for needed in ("proxy_buffering off", "Upgrade $http_upgrade", "proxy_read_timeout 3600s"):
        assert needed in site
