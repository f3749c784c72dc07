#!/usr/bin/env bash
# make demo: starts the sandbox, tracks CGMU2436601 through the module with
# the soget command, prints its timeline, then stops the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
LUA_VERSION=${LUA_VERSION:-5.4}
export LUA_CPATH="build/lua$LUA_VERSION/?.so;;"
eval "$(sandbox/run start)"
trap 'sandbox/run stop "$SOGET_SANDBOX_DIR" >/dev/null' EXIT
echo "== sandbox on $SOGET_BASE_URL"
if [ -x bin/soget ]; then
  echo "== soget track CGMU2436601"
  lua5.4 bin/soget track CGMU2436601
else
  echo "== examples/track.lua CGMU2436601"
  lua5.4 examples/track.lua CGMU2436601
fi
