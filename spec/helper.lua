-- Loaded by busted before every spec file (see .busted): makes the module
-- under test loadable and gives specs a few tools to talk to the sandbox.
local dir = os.getenv("SOGET_MODULE_DIR") or "build/lua5.4"
package.cpath = dir .. "/?.so;" .. package.cpath
package.path = "spec/?.lua;" .. package.path
