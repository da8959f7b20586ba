#!/usr/bin/env bash
# System packages Tawa's local platform and tests need: the Redis server.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
# The package starts a system-wide server on :6379; we start our own per use.
$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
