#!/usr/bin/env bash
# Install (or upgrade) Bella Gateway on a host, without Docker. Idempotent: run it again to
# upgrade the code; an existing config, env file and data are never overwritten.
#
#   sudo deploy/install.sh [--prefix /opt/bella] [--user bella] [--config-dir /etc/bella]
#                          [--data-dir /var/lib/bella] [--systemd-dir /etc/systemd/system]
#                          [--python python3] [--wheels DIR] [--no-systemd]
#
# What it does: a system user (no login), a venv under PREFIX with the gateway installed from
# this source tree (or from wheels in DIR, offline), a minimal config and an env file with a
# generated master key under CONFIG_DIR, the data dir (0750, owned by the user), the systemd
# units (paths rewritten to the ones above), and the docs under PREFIX/docs.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/bella
USER_NAME=bella
CONFIG_DIR=/etc/bella
DATA_DIR=/var/lib/bella
SYSTEMD_DIR=/etc/systemd/system
PYTHON=python3
WHEELS=""
SYSTEMD=yes

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --user) USER_NAME="$2"; shift 2 ;;
        --config-dir) CONFIG_DIR="$2"; shift 2 ;;
        --data-dir) DATA_DIR="$2"; shift 2 ;;
        --systemd-dir) SYSTEMD_DIR="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --wheels) WHEELS="$2"; shift 2 ;;
        --no-systemd) SYSTEMD=no; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

for dir in "$PREFIX" "$CONFIG_DIR" "$DATA_DIR" "$SYSTEMD_DIR"; do
    case "$dir" in /*) ;; *) die "paths must be absolute: $dir" ;; esac
done
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than Python 3.11"
ROOT=no
[ "$(id -u)" -eq 0 ] && ROOT=yes

# --- the user -------------------------------------------------------------------------------
if [ "$ROOT" = yes ]; then
    if ! getent group "$USER_NAME" >/dev/null; then
        say "creating group $USER_NAME"
        groupadd --system "$USER_NAME"
    fi
    if ! id -u "$USER_NAME" >/dev/null 2>&1; then
        say "creating system user $USER_NAME"
        useradd --system --gid "$USER_NAME" --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "Bella Gateway" "$USER_NAME"
    fi
else
    echo "install.sh: not root: no user is created and files keep your ownership" >&2
fi
owned() {  # owned MODE DIR: create DIR owned by the service user (when root)
    install -d -m "$1" "$2"
    if [ "$ROOT" = yes ]; then chown "$USER_NAME:$USER_NAME" "$2"; fi
}

# --- code -----------------------------------------------------------------------------------
install -d -m 0755 "$PREFIX"
if [ ! -x "$PREFIX/venv/bin/python" ]; then
    say "creating the venv $PREFIX/venv"
    "$PYTHON" -m venv "$PREFIX/venv"
fi
say "installing bella-gateway from $SRC"
PIP=("$PREFIX/venv/bin/pip" install --quiet --disable-pip-version-check)
if [ -n "$WHEELS" ]; then
    PIP+=(--no-index --find-links "$WHEELS")
fi
"${PIP[@]}" --upgrade "$SRC"
install -d -m 0755 "$PREFIX/bin" "$PREFIX/docs"
cat > "$PREFIX/bin/bella-gateway.new" <<WRAPPER
#!/bin/sh
# bella-gateway with this host's config and environment (written by deploy/install.sh).
set -a
[ -r "$CONFIG_DIR/bella-gateway.env" ] && . "$CONFIG_DIR/bella-gateway.env"
set +a
export BELLA_CONFIG="\${BELLA_CONFIG:-$CONFIG_DIR/bella.yaml}"
exec "$PREFIX/venv/bin/bella-gateway" "\$@"
WRAPPER
chmod 0755 "$PREFIX/bin/bella-gateway.new"
mv "$PREFIX/bin/bella-gateway.new" "$PREFIX/bin/bella-gateway"
install -m 0644 "$SRC/docs/operations.md" "$PREFIX/docs/operations.md"
install -m 0644 "$SRC/deploy/bella.example.yaml" "$PREFIX/docs/bella.example.yaml"

# --- data and config ------------------------------------------------------------------------
owned 0750 "$DATA_DIR"
install -d -m 0755 "$CONFIG_DIR"
if [ ! -e "$CONFIG_DIR/bella.yaml" ]; then
    say "writing $CONFIG_DIR/bella.yaml (embedded SQLite; see $PREFIX/docs/bella.example.yaml)"
    cat > "$CONFIG_DIR/bella.yaml" <<EOF
# Bella Gateway configuration; every key is documented in $PREFIX/docs/bella.example.yaml.
# Secrets (master key, database password) go in $CONFIG_DIR/bella-gateway.env.
server:
  host: 127.0.0.1
  port: 8080
  workers: 1
  data_dir: $DATA_DIR
  shutdown_timeout_s: 30
EOF
    chmod 0644 "$CONFIG_DIR/bella.yaml"
fi
if [ ! -e "$CONFIG_DIR/bella-gateway.env" ]; then
    say "writing $CONFIG_DIR/bella-gateway.env with a new master key"
    KEY="$("$PREFIX/venv/bin/python" -c \
        'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
    (umask 027; sed "s|^BELLA_SECRETS_MASTER_KEY=.*|BELLA_SECRETS_MASTER_KEY=$KEY|" \
        "$SRC/deploy/systemd/bella-gateway.env" > "$CONFIG_DIR/bella-gateway.env")
    if [ "$ROOT" = yes ]; then chgrp "$USER_NAME" "$CONFIG_DIR/bella-gateway.env"; fi
fi

# --- systemd --------------------------------------------------------------------------------
render() {  # render UNIT: the unit with this install's paths and user
    sed -e "s|/opt/bella|$PREFIX|g" \
        -e "s|/etc/bella|$CONFIG_DIR|g" \
        -e "s|/var/lib/bella|$DATA_DIR|g" \
        -e "s|^User=bella$|User=$USER_NAME|" \
        -e "s|^Group=bella$|Group=$USER_NAME|" \
        "$SRC/deploy/systemd/$1"
}
if [ "$SYSTEMD" = yes ]; then
    install -d -m 0755 "$SYSTEMD_DIR"
    for unit in bella-gateway.service bella-gateway-migrate.service; do
        render "$unit" > "$SYSTEMD_DIR/$unit.new"
        # StateDirectory= names a directory under /var/lib: follow the data dir, or drop it.
        case "$DATA_DIR" in
            /var/lib/*) sed -i -e "s|^StateDirectory=.*|StateDirectory=${DATA_DIR#/var/lib/}|" \
                "$SYSTEMD_DIR/$unit.new" ;;
            *) sed -i -e '/^StateDirectory/d' "$SYSTEMD_DIR/$unit.new" ;;
        esac
        chmod 0644 "$SYSTEMD_DIR/$unit.new"
        mv "$SYSTEMD_DIR/$unit.new" "$SYSTEMD_DIR/$unit"
    done
    if [ -d /run/systemd/system ] && [ "$SYSTEMD_DIR" = /etc/systemd/system ]; then
        systemctl daemon-reload
    fi
fi

cat <<EOF
Bella Gateway is installed in $PREFIX.
Next:
  1. edit $CONFIG_DIR/bella.yaml (and secrets in $CONFIG_DIR/bella-gateway.env)
  2. create the schema and the system key (printed once):
       sudo -u $USER_NAME $PREFIX/bin/bella-gateway init
  3. systemctl enable --now bella-gateway   # then: curl http://127.0.0.1:8080/readyz
EOF
