#!/usr/bin/env bash
# System packages Tawa's local platform and tests need: the Redis server, and
# wrk, the HTTP load tool of bench/gateway.py.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
# The package starts a system-wide server on :6379; we start our own per use.
$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
