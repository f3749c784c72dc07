#!/usr/bin/env bash
# make demo: starts the sandbox, tracks CGMU2436601 through the module with
# the soget command, prints its timeline, lists the units of a bill of
# lading (soget search, once the module and the sandbox have the search),
# then stops the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
LUA_VERSION=${LUA_VERSION:-5.4}
# the runtime make built for: its interpreter and its build folder
if [ "$LUA_VERSION" = jit ]; then lua=luajit build=build/luajit
else lua=lua$LUA_VERSION build=build/lua$LUA_VERSION; fi
export LUA_CPATH="$build/?.so;;"
# A sandbox of its own, never one the caller's shell started (which it
# would stop), and none of the caller's settings for another server.
unset SOGET_SANDBOX_DIR SOGET_BASE_URL SOGET_TOKEN_URL SOGET_CLIENT_ID \
      SOGET_CLIENT_SECRET SOGET_API_KEY SOGET_CA_FILE SOGET_ACCESS_TOKEN \
      SOGET_SEARCH_BASE_URL SOGET_SEARCH_API_KEY SOGET_SANDBOX_SEARCH_KEY SOGET_PROFILE
settings=$(sandbox/run start)   # (set -e: a sandbox that does not start ends here)
eval "$settings"
trap 'sandbox/run stop "$SOGET_SANDBOX_DIR" >/dev/null' EXIT
# the command's token cache in the sandbox's folder, which goes with it:
# the sandbox's credentials are new each time, and a token for them would
# be left in ~/.cache/soget for nothing
export XDG_CACHE_HOME="$SOGET_SANDBOX_DIR/cache"
echo "== sandbox on $SOGET_BASE_URL"
if [ -x bin/soget ]; then
  echo "== soget track CGMU2436601"
  "$lua" bin/soget track CGMU2436601
else
  echo "== examples/track.lua CGMU2436601"
  "$lua" examples/track.lua CGMU2436601
fi
# The bill of lading 3714238101 (the API's own sample) has 25 units in the
# sandbox: containers and breakbulk on one voyage.
if [ -x bin/soget ] && [ -n "${SOGET_SEARCH_BASE_URL:-}" ] \
   && "$lua" -e 'local s = require "soget"
                 os.exit(s.client{ access_token = "t", api_key = "k" }.handling_units_search and 0 or 1)' \
      2>/dev/null; then
  echo
  echo "== soget search --document 3714238101"
  "$lua" bin/soget search --document 3714238101
fi
