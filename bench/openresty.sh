#!/usr/bin/env bash
# The OpenResty figure: bench/openresty.lua against the sandbox in the
# environment (SOGET_*), or against one started here and stopped after.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SOGET_SANDBOX_HTTP:-}" ] || [ -z "${SOGET_BASE_URL:-}" ]; then
  eval "$(sandbox/run start)" >/dev/null
  trap 'sandbox/run stop "$SOGET_SANDBOX_DIR" >/dev/null 2>&1 || true' EXIT
fi
LUA=${SOGET_BENCH_LUA:-$(command -v lua5.4 || command -v luajit || echo lua)}
"$LUA" bench/openresty.lua
