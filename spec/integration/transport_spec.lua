-- The libcurl transport against the sandbox: TLS, keep-alive, retries,
-- Retry-After, timeouts, redirects, size cap and every fault.
local S = require "support"
local P = require "integration.proxy"

local now = S.now

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local with_relay = P.with_relay

-- This process's TCP sockets (by their /proc/self/fd number) and whether
-- each is closed on exec (O_CLOEXEC in its fdinfo flags, octal).
local function tcp_sockets()
  local inodes = {}
  for _, f in ipairs { "/proc/self/net/tcp", "/proc/self/net/tcp6" } do
    local h = io.open(f)
    if h then
      for line in h:lines() do
        local inode = line:match("^%s*%d+:%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(%d+)")
        if inode then inodes[inode] = true end
      end
      h:close()
    end
  end
  local pid = assert(io.open("/proc/self/stat")):read("*l"):match("^(%d+)")
  local out = {}
  local ls = assert(io.popen("ls /proc/" .. pid .. "/fd"))
  for fd in ls:lines() do
    local p = io.popen("readlink /proc/" .. pid .. "/fd/" .. fd)
    local target = p:read("*l") or ""
    p:close()
    local inode = target:match("^socket:%[(%d+)%]$")
    if inode and inodes[inode] then
      local info = io.open("/proc/" .. pid .. "/fdinfo/" .. fd)
      local flags = info and info:read("*a"):match("flags:%s*(%d+)")
      if info then info:close() end
      out[#out + 1] = { fd = fd, cloexec = flags and math.floor(tonumber(flags, 8) / 0x80000) % 2 == 1 }
    end
  end
  ls:close()
  return out
end

describe("transport", function()
  before_each(function() S.reset() end)

  it("closes its connections on exec: a program the script starts holds none", function()
    -- they stayed open in a child (io.popen("exec sleep 4")) after close()
    local before = {}   -- (the process's own, the spec runner's)
    for _, s in ipairs(tcp_sockets()) do before[s.fd] = true end
    local function new_ones()
      local out = {}
      for _, s in ipairs(tcp_sockets()) do
        if not before[s.fd] then out[#out + 1] = s end
      end
      return out
    end
    local c = S.client()
    assert(c:handling_units("CGMU2436601"))
    local one = #new_ones()
    local results = assert(c:handling_units_many({ "CGMU2436601", "MSCU" }, { concurrency = 2 }))
    assert.are.equal("CNI0000063978", results[1].items[1].pswId)
    local all = new_ones()
    assert.truthy(one >= 1 and #all > one, one .. " then " .. #all)
    for _, s in ipairs(all) do assert.is_true(s.cloexec, "fd " .. s.fd) end
    c:close()
  end)

  describe("TLS", function()
    it("verifies the server against ca_file", function()
      local c = S.client()
      assert(c:handling_units("CGMU2436601"))
      assert.are.equal("https", S.requests(1)[1].scheme)
      c:close()
    end)

    it("fails with kind 'tls' when the CA is not trusted", function()
      local c = S.client{ ca_file = "/etc/ssl/certs/ca-certificates.crt" }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("tls", err.kind)
      assert.is_false(err.retryable)
      c:close()
    end)

    it("refuses a ca_file that is a FIFO, a device, a directory or empty, and one longer than libcurl takes", function()
      -- a FIFO held the TLS library's open of it, at the first connection,
      -- past every timeout and Ctrl-C; an empty one named no file, which
      -- that connection then failed to open
      local dir = P.tmpdir()
      assert(S.execute("mkfifo " .. S.shell_quote(dir .. "/fifo")) == 0)
      for path, why in pairs { [dir .. "/fifo"] = "is not a regular file", ["/dev/zero"] = "is not a regular file",
                               [dir] = "is a directory",
                               [""] = "is empty: leave it out to trust the system's store" } do
        local ok, err = pcall(S.client, { ca_file = path })
        assert.is_false(ok, path)
        assert.truthy(tostring(err):find("soget.client: ca_file " .. why, 1, true), tostring(err))
      end
      for _, k in ipairs { "ca_file", "no_proxy" } do
        local ok, err = pcall(S.client, { [k] = string.rep("a", 8000001) })
        assert.is_false(ok)
        assert.truthy(tostring(err):find("soget.client: " .. k .. " is longer than libcurl takes (8000000 bytes)",
          1, true), tostring(err))
      end
      -- one not there yet: the first connection's TLS error
      local c = S.client{ ca_file = dir .. "/none.pem" }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("tls", err.kind, tostring(err))
      c:close()
      S.execute("rm -rf " .. dir)
    end)

    -- Runs the shell command cmd (the string it gets: dir, its scratch
    -- folder) in a network and mount namespace of its own, where the only
    -- DNS server (resolv.conf's options given) never answers; -> its
    -- output, or nil when such namespaces cannot be made here. The silent
    -- server is stopped by its PID once cmd is over.
    local function with_silent_dns(options, cmd)
      if S.execute("unshare -mn true >/dev/null 2>&1") ~= 0 or S.execute("command -v ip >/dev/null") ~= 0 then
        return nil
      end
      local dir = P.tmpdir()
      S.write_file(dir .. "/resolv.conf", "nameserver 127.0.0.1\n" .. options)
      S.write_file(dir .. "/hole.lua", [[
        local socket = require "socket"
        local u = assert(socket.udp())
        assert(u:setsockname("127.0.0.1", 53))
        u:settimeout(1)
        local t0 = socket.gettime()
        io.write("ready\n"); io.flush()
        while socket.gettime() - t0 < 60 do u:receive() end]])
      local out = S.popen_read("unshare -mn sh -c " .. S.shell_quote("ip link set lo up && mount --bind "
        .. dir .. "/resolv.conf /etc/resolv.conf || exit 1; lua5.4 " .. dir .. "/hole.lua > " .. dir
        .. "/hole.out 2>&1 & h=$!; i=0; until grep -q ready " .. dir .. "/hole.out 2>/dev/null; do i=$((i+1)); "
        .. "[ $i -gt 300 ] && { echo 'the silent DNS server did not start'; break; }; sleep 0.1; done; "
        .. cmd(dir) .. "; { kill $h; wait $h; } 2>/dev/null")
        .. " 2>&1")
      S.execute("rm -rf " .. dir)
      return out
    end
    local NO_NAMESPACES = "unshare -mn is not allowed here (it needs root), or no ip command"
    local DNS_CLIENT = "client_id='cid',client_secret='secret-abcdef',api_key='apikey-123456',"
      .. "base_url='https://api.soget.example/api-tracing-code/v1',"
      .. "token_url='https://api.soget.example/token',retries=0,proxy=''"

    -- The call ends at its timeout, not when the resolver gives up (10 s
    -- with glibc's defaults), in the blocking driver and in a batch.
    it("ends a call at its timeout while a name's DNS server never answers", function()
      local script = "package.cpath=" .. ("%q"):format(package.cpath) .. ";"
        .. "local soget=require'soget';"
        .. "local function client() return soget.client{" .. DNS_CLIENT .. ",timeout=1} end;"
        .. "local t=os.time();local p,e=client():handling_units('CGMU2436601');"
        .. "local r=client():handling_units_many({'CGMU2436601','MSCU'});"
        .. "io.write(e.kind,' ',r[1].kind,' ',r[2].kind,' ',os.time()-t)"
      local out = with_silent_dns("", function()
        return "timeout 60 " .. S.shell_quote(S.lua) .. " -e " .. S.shell_quote(script)
      end)
      if not out then return pending(NO_NAMESPACES) end
      local a, b, c, took = out:match("^(%S+) (%S+) (%S+) (%d+)$")
      assert.are.same({ "timeout", "timeout", "timeout" }, { a, b, c }, out)
      -- (the resolver's 10 s each before; a slack for slow runs, valgrind's)
      assert.is_true(tonumber(took) <= 7, "took " .. took .. " s for two calls of 1 s")
    end)

    -- The same in a C program that closes its Lua state and goes on: the
    -- resolver thread libcurl left (it gives up after 2 s here) must not
    -- return into a module lua_close unloaded.
    it("outlives, in a host that closes its Lua state, the resolver thread a timeout left", function()
      if S.lua ~= "lua5.4" then return pending("the host is built against Lua 5.4") end
      local host = [[
        #include <lauxlib.h>
        #include <lualib.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
          lua_State *L = luaL_newstate();
          luaL_openlibs(L);
          if (argc < 2 || luaL_dostring(L, argv[1])) { puts(lua_tostring(L, -1)); return 1; }
          lua_close(L);
          fflush(stdout);
          sleep(4);   /* past the resolver's 2 s */
          puts("alive");
          return 0;
        }]]
      local script = "package.cpath=" .. ("%q"):format(package.cpath) .. ";"
        .. "local c=require'soget'.client{" .. DNS_CLIENT .. ",timeout=0.5};"
        .. "local p,e=c:handling_units('CGMU2436601');io.write(e.kind,' ');c:close()"
      local out = with_silent_dns("options timeout:2 attempts:1\n", function(dir)
        S.write_file(dir .. "/host.c", host)
        assert(S.execute("cc -o " .. dir .. "/host " .. dir .. "/host.c -I/usr/include/lua5.4 -llua5.4") == 0)
        return "timeout 30 " .. dir .. "/host " .. S.shell_quote(script) .. "; echo \" rc=$?\""
      end)
      if not out then return pending(NO_NAMESPACES) end
      assert.are.equal("timeout alive rc=0", (out:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")))
    end)

    it("skips verification only when told to", function()
      local c = S.client{ ca_file = "/etc/ssl/certs/ca-certificates.crt", verify_tls = false }
      assert(c:handling_units("CGMU2436601"))
      c:close()
    end)

    -- The system's CA directory (/etc/ssl/certs, which Debian's libcurl
    -- reads by default) replaced, in a mount namespace of the child's own,
    -- by one that holds the sandbox's CA: given ca_file, the client must
    -- trust that file alone.
    it("trusts only ca_file when it is given, not the system's CA directory beside it", function()
      if S.execute("unshare -m true >/dev/null 2>&1") ~= 0 then
        return pending("unshare -m is not allowed here (it needs root): no private CA directory")
      end
      local dir = P.tmpdir()
      local other = P.certificate(dir, "other", "DNS:nowhere.invalid")   -- a CA of no one's
      assert(S.execute("mkdir " .. dir .. "/certs && cp " .. S.shell_quote(S.ca_file) .. " "
        .. dir .. "/certs/sandbox.pem && openssl rehash " .. dir .. "/certs >/dev/null 2>&1") == 0)
      local function lookup(ca_file)
        local script = "package.cpath=" .. ("%q"):format(package.cpath) .. ";"
          .. "local c=require'soget'.client{client_id=" .. ("%q"):format(S.client_id)
          .. ",client_secret=" .. ("%q"):format(S.client_secret) .. ",api_key="
          .. ("%q"):format(S.api_key) .. ",base_url=" .. ("%q"):format(S.base_url)
          .. ",token_url=" .. ("%q"):format(S.token_url) .. ",ca_file=" .. ("%q"):format(ca_file)
          .. ",retries=0,timeout=5};"
          .. "local p,e=c:handling_units('CGMU2436601');io.write(p and 'ok' or e.kind)"
        return S.popen_read("unshare -m sh -c " .. S.shell_quote("mount --bind " .. dir
          .. "/certs /etc/ssl/certs && exec " .. S.shell_quote(S.lua) .. " -e "
          .. S.shell_quote(script)) .. " 2>&1")
      end
      local with_sandbox_ca, with_other = lookup(S.ca_file), lookup(other)
      S.execute("rm -rf " .. dir)
      assert.are.equal("ok", with_sandbox_ca)
      assert.are.equal("tls", with_other)
    end)

    it("speaks plain HTTP too", function()
      local http_base = S.base_url:gsub("^https://[^/]+", S.http)
      local http_token = S.token_url:gsub("^https://[^/]+", S.http)
      local c = S.client{ base_url = http_base, token_url = http_token }
      assert(c:handling_units("CGMU2436601"))
      assert.are.equal("http", S.requests(1)[1].scheme)
      c:close()
    end)
  end)

  describe("compression", function()
    it("asks for gzip by default, and for identity when told not to", function()
      local c = S.client()
      assert(c:handling_units("CGMU2436601"))
      -- gzip alone, as the soget.Call drivers' bytes ask: no coding they cannot read
      assert.are.equal("gzip", S.requests(1)[1].headers["accept-encoding"])
      local bytes = c:begin("CGMU2436601"):request_bytes()
      assert.truthy(bytes.bytes:find("\r\nAccept-Encoding: gzip\r\n", 1, true))
      c:close()
      c = S.client{ gzip = false }
      local page = assert(c:handling_units("CGMU2436601"))
      assert.are.equal("identity", S.requests(1)[1].headers["accept-encoding"])
      assert.are.equal("CNI0000063978", page.items[1].pswId)
      bytes = c:begin("CGMU2436601"):request_bytes()
      assert.truthy(bytes.bytes:find("\r\nAccept-Encoding: identity\r\n", 1, true))
      c:close()
    end)
  end)

  describe("connections", function()
    it("reuses one keep-alive connection for sequential calls", function()
      local c = S.client()
      for _ = 1, 10 do assert(c:handling_units("CGMU2436601")) end
      local st = S.stats()
      assert.are.equal(1, st.connections)
      assert.are.equal(11, st.requests_per_connection.max)   -- token + 10 calls
      assert.are.equal(1, c:stats().connections)
      c:close()
    end)

    it("opens a separate connection per client", function()
      local a, b = S.client(), S.client()
      assert(a:handling_units("CGMU2436601"))
      assert(b:handling_units("CGMU2436601"))
      assert(a:handling_units("CGMU2436601"))
      assert.are.equal(2, S.stats().connections)
      a:close(); b:close()
    end)
  end)

  describe("retries", function()
    it("retries a 503 and succeeds", function()
      local c = S.client{ base_url = S.fault_base("503-then-ok:n=2:id=" .. S.uid()) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(err)
      assert.are.equal(1, page.total)
      assert.are.equal(3, S.stats().api_requests)
      assert.are.equal(2, c:stats().retries)
      c:close()
    end)

    for _, status in ipairs{ "502", "504", "408" } do
      it("retries a " .. status, function()
        local c = S.client{ base_url = S.fault_base(status .. ":n=1:id=" .. S.uid()) }
        assert(c:handling_units("CGMU2436601"))
        assert.are.equal(2, S.stats().api_requests)
        c:close()
      end)
    end

    it("gives up after 'retries' and says it may be retried later", function()
      local c = S.client{ retries = 1, base_url = S.fault_base("503-then-ok:n=50:id=" .. S.uid()) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("http", err.kind)
      assert.are.equal(503, err.status)
      assert.is_true(err.retryable)
      assert.are.equal(2, S.stats().api_requests)
      c:close()
    end)

    it("does not retry a 500", function()
      local c = S.client{ base_url = S.fault_base("500") }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("http", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal(1, S.stats().api_requests)
      c:close()
    end)

    it("honours Retry-After in seconds", function()
      local c = S.client{ base_url = S.fault_base("429:n=1:retry-after=1:id=" .. S.uid()) }
      local t0 = now()
      assert(c:handling_units("CGMU2436601"))
      assert.truthy(now() - t0 >= 0.95, "waited as told")
      assert.are.equal(2, S.stats().api_requests)
      c:close()
    end)

    it("reads the first of two Retry-After lines, as soget.http_parser does", function()
      -- the blocking driver and batches (libcurl) took the last, where
      -- the core's parser, which soget.ngx and soget.Call drivers read
      -- answers with, keeps the first (spec/core/http1_spec.c)
      local c = S.client{ retries = 0,
        base_url = S.fault_base("429:retry-after=1:again=3:id=" .. S.uid()) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.truthy(err.message:find("(Retry-After 1 s;", 1, true), err.message)
      assert.are.equal(1, err.retry_after)
      local results = c:handling_units_many({ "CGMU2436601", "CSQU3054383" })
      for i = 1, 2 do
        assert.truthy(results[i].message:find("(Retry-After 1 s;", 1, true), results[i].message)
        assert.are.equal(1, results[i].retry_after)
      end
      c:close()
    end)

    it("honours Retry-After as an HTTP-date", function()
      local c = S.client{ base_url = S.fault_base("429:n=1:retry-date=2:id=" .. S.uid()) }
      local t0 = now()
      assert(c:handling_units("CGMU2436601"))
      assert.truthy(now() - t0 >= 0.9, "waited until the date")
      assert.are.equal(2, S.stats().api_requests)
      c:close()
    end)

    it("says a timeout at the call's deadline is the call's, not its last request's", function()
      -- an exact walk of seven pages, each 0.4 s late, in a 1.5 s call: the
      -- request out at the deadline had a fraction of that, which is all
      -- libcurl counts ("Operation timed out after 299 milliseconds")
      local c = S.client{ timeout = 1.5, retries = 0,
        base_url = S.fault_base("delay:ms=400:id=" .. S.uid()) }
      assert(c:token())
      local page, err = c:handling_units{ reference = "SOGU1000004", exact = true, limit = 2 }
      assert.is_nil(page)
      assert.are.equal("timeout", err.kind)
      -- (the request's own words after it; none when the deadline came
      -- between two requests)
      assert.truthy(err.message:find("^timeout reached %(1%.5 s%) before the call completed"),
        err.message)
      c:close()
    end)

    it("does not wait past its deadline for a long Retry-After", function()
      local c = S.client{ timeout = 2, base_url = S.fault_base("429:n=5:retry-after=600:id=" .. S.uid()) }
      local t0 = now()
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.truthy(now() - t0 < 2, "gave up at once")
      assert.are.equal(429, err.status)
      assert.is_true(err.retryable)
      assert.truthy(err.message:find("Retry-After 600", 1, true), err.message)
      -- the wait it did not make, for the script to make
      assert.are.equal(600, err.retry_after)
      assert.is_true(math.type == nil or math.type(err.retry_after) == "integer")
      c:close()
      -- none when the answer had no Retry-After, or for a status not retried
      c = S.client{ retries = 0, base_url = S.fault_base("502:id=" .. S.uid()) }
      page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal(502, err.status)
      assert.is_nil(err.retry_after)
      c:close()
    end)

    it("retries connection failures (reset, truncated body)", function()
      for _, fault in ipairs{ "reset", "truncate" } do
        S.reset()
        local c = S.client{ retries = 2, base_url = S.fault_base(fault) }
        local page, err = c:handling_units("CGMU2436601")
        assert.is_nil(page)
        assert.are.equal("network", err.kind, fault)
        assert.is_true(err.retryable)
        assert.are.equal(3, S.stats().api_requests, fault)
        c:close()
      end
    end)

    it("fails with kind 'network' when nothing listens", function()
      local c = S.client{ base_url = "http://127.0.0.1:9/api", retries = 0 }
      c:set_token("x", 60)
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("network", err.kind)
      c:close()
    end)
  end)

  describe("timeouts", function()
    it("fails with kind 'timeout' when the server is slow", function()
      local c = S.client{ timeout = 0.5, base_url = S.fault_base("delay:ms=3000") }
      assert(c:token())
      local t0 = now()
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("timeout", err.kind)
      assert.truthy(now() - t0 < 2.5)
      c:close()
    end)

    it("treats timeout as a deadline for the whole call, retries included", function()
      local c = S.client{ timeout = 1, retries = 10,
        base_url = S.fault_base("503-then-ok:n=1000:id=" .. S.uid()) }
      assert(c:token())
      local t0 = now()
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.truthy(now() - t0 < 2.5, "deadline held")
      assert.truthy(err.kind == "http" or err.kind == "timeout", err.kind)
      c:close()
    end)

    -- A listener that resets each connection once the client's
    -- ClientHello came: as a server restarting, or a balancer dropping
    -- handshakes. A reset, as at any other time: network, retried. The
    -- same listener closing each connection in order (FIN): OpenSSL sees
    -- the end of the stream with no errno, and libcurl says only
    -- SSL_ERROR_SYSCALL; a connection cut all the same.
    for _, how in ipairs { "reset", "close" } do
      it("retries a connection " .. (how == "reset" and "reset" or "closed")
          .. " during the TLS handshake, as a network failure", function()
        with_relay(how, nil, "listener that " .. how .. "s", function(relay)
          local base = relay.url:gsub("^http:", "https:") .. "/api-tracing-code/v1"
          local c = S.client{ access_token = "static-token", base_url = base, timeout = 10,
            retries = 2 }
          local page, e = c:handling_units("CGMU2436601")
          assert.is_nil(page)
          assert.are.equal("network", e.kind, e.message)
          assert.is_true(e.retryable)
          if how == "close" then
            assert.truthy(e.message:find("^the connection closed during the TLS handshake %("), e.message)
            assert.falsy(e.message:find(" %)$"), e.message)
          end
          assert.are.equal(2, c:stats().retries)
          assert.are.equal((how .. "\n"):rep(3), relay:bytes())
          -- a batch's lookups alike
          local results = c:handling_units_many({ "CGMU2436601" })
          assert.are.equal("network", results[1].kind, results[1].message)
          c:close()
        end)
      end)
    end

    -- A loopback listener whose backlog is full: the kernel drops every
    -- SYN, so a connection never completes its handshake (a server that is
    -- down behind a firewall that drops packets).
    it("bounds a connection that never completes by connect_timeout", function()
      with_relay("stall", nil, "listener that never accepts", function(stall)
        local base = stall.url:gsub("^http:", "https:") .. "/api-tracing-code/v1"
        -- a static token: no token request, so the GET is the one waiting
        local c = S.client{ access_token = "static-token", base_url = base,
          connect_timeout = 0.4, timeout = 10, retries = 2 }
        local t0 = now()
        local page, e = c:handling_units("CGMU2436601")
        local took = now() - t0
        assert.is_nil(page)
        assert.are.equal("timeout", e.kind, tostring(e))
        -- a timeout is not retried (retries are for network failures and
        -- statuses): the call ends at connect_timeout, not at its timeout
        assert.are.equal(0, c:stats().retries)
        assert.are.equal(1, c:stats().api_requests)
        assert.truthy(took >= 0.35 and took < 2, "cut at connect_timeout: " .. took)
        -- bulk lookups, on connections of their own, have the same bound
        t0 = now()
        local results, counts = c:handling_units_many({ "CGMU2436601", "CSQU3054383" })
        took = now() - t0
        assert.are.same({ ok = 0, failed = 2 }, counts)
        assert.are.equal("timeout", results[1].kind)
        assert.are.equal("timeout", results[2].kind)
        assert.truthy(took < 3, "bounded: " .. took)
        c:close()
        -- the call's timeout bounds a longer connect_timeout
        c = S.client{ access_token = "static-token", base_url = base, connect_timeout = 30,
          timeout = 0.7, retries = 0 }
        t0 = now()
        page, e = c:handling_units("CGMU2436601")
        took = now() - t0
        assert.is_nil(page)
        assert.are.equal("timeout", e.kind)
        assert.truthy(took >= 0.6 and took < 2.5, "cut at the call's timeout: " .. took)
        c:close()
      end)
    end)
  end)

  -- The sandbox counts TLS handshakes, and those that resumed a session
  -- (/_control/stats).
  describe("TLS handshakes", function()
    it("one per connection: a client's calls and batches keep theirs", function()
      local c = S.client()
      for _ = 1, 5 do assert(c:handling_units("CGMU2436601")) end
      for _ = 1, 3 do
        local _, counts = c:handling_units_many({ "CGMU2436601", "CSQU3054383", "MSCU" })
        assert.are.equal(3, counts.ok)
      end
      local st = S.stats()
      -- the client's handle and its batches' pool: HTTP/2 carries a batch
      -- on one connection, and the pool keeps it for the next batch
      assert.are.equal(2, st.connections)
      assert.are.equal(2, st.tls_handshakes)
      assert.are.equal(2, c:stats().connections)
      c:close()
    end)

    -- A relay in front of the sandbox's HTTPS port drops the connections
    -- (as a network would); the client makes new ones. libcurl 7.88 then
    -- offers no session of an HTTP/2 connection (README, "Authentication
    -- and transport"): each new connection is one more handshake.
    it("one more for each connection made again after the network dropped one", function()
      with_relay("record", S.https:match(":(%d+)$"), "relay to drop connections", function(relay)
        local origin = "https://127.0.0.1:" .. relay.port   -- the certificate names 127.0.0.1
        local c = S.client{ base_url = S.base_url:gsub("^https://[^/]+", origin),
          token_url = S.token_url:gsub("^https://[^/]+", origin) }
        assert(c:handling_units("CGMU2436601"))     -- token and lookup: one connection
        for _ = 1, 2 do
          relay:cut()
          assert(c:handling_units("CGMU2436601"))
        end
        c:close()
        local st = S.stats()
        assert.are.equal(3, st.connections)
        assert.are.equal(3, st.tls_handshakes)
        assert.are.equal(1, st.token_requests)
        assert.are.equal(3, st.api_requests)
      end)
    end)
  end)

  describe("redirects", function()
    it("follows a redirect on the API's own host, with credentials", function()
      local target = S.base_url .. "/handling-units?reference=CGMU2436601"
      local c = S.client{ base_url = S.fault_base("redirect:to=" .. urlencode(target)) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(err)
      assert.are.equal(1, page.total)
      local reqs = S.requests(2)
      assert.are.equal(S.api_key, reqs[2].headers["ocp-apim-subscription-key"])
      c:close()
    end)

    it("never sends credentials to another host", function()
      local other = S.base_url:gsub("127%.0%.0%.1", "localhost") ..
        "/handling-units?reference=CGMU2436601"
      local c = S.client{ base_url = S.fault_base("redirect:to=" .. urlencode(other)) }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("http", err.kind)
      assert.are.equal(307, err.status)
      assert.truthy(err.message:find("another host", 1, true), err.message)
      assert.are.equal(1, S.stats().api_requests)
      c:close()
    end)
  end)

  describe("response bodies", function()
    it("caps the response size with an error, not an out-of-memory", function()
      local c = S.client{ max_response_size = 100000, base_url = S.fault_base("huge:bytes=2000000") }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("http", err.kind)
      assert.truthy(err.message:find("max_response_size", 1, true), err.message)
      c:close()
    end)

    it("refuses a page holding more units than asked for, before building them", function()
      -- a million empty units in a few KB of gzip: each became a table with
      -- its four array fields (160 times the decoded body in Lua memory)
      local base = S.fault_base("many-items:n=1000000")
      local want = "response: items holds more units than the 3 the request asked for (its limit)"
      local c = S.client{ base_url = base, timeout = 30 }
      local page, err = c:handling_units{ reference = "MSCU", limit = 3 }
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      assert.are.equal(want, err.message)
      assert.is_false(err.retryable)
      assert.are.equal(0, c:stats().retries)
      -- the batch and soget.Call alike
      local r = c:handling_units_many({ { reference = "MSCU", limit = 3 } })[1]
      assert.are.equal("decode", r.kind)
      assert.are.equal(want, r.message)
      local call = c:begin{ reference = "MSCU", limit = 3 }
      local req = assert(call:request())
      local status, _, body = S.curl_send(req)
      local p2, e2 = call:response(status, body)
      assert.is_nil(p2)
      assert.are.equal(want, e2.message)
      -- with no limit sent, the API's largest page (10)
      page, err = S.client{ base_url = S.fault_base("many-items:n=11") }:handling_units("MSCU")
      assert.is_nil(page)
      assert.are.equal("response: items holds more units than the 10 of the API's largest page",
        err.message)
      -- both parsers: libyajl takes a body with a surrogate escape
      for _, extra in ipairs { "", ',"note":"\\ud83d\\ude00"' } do
        for n, ok in pairs { [3] = true, [4] = false } do
          local units = {}
          for i = 1, n do units[i] = '{"reference":"MSCU' .. i .. '"}' end
          call = c:begin{ reference = "MSCU", limit = 3 }
          assert.are.equal("api", assert(call:request()).kind)
          local p3, e3 = call:response(200, '{"total":9,"returned":' .. n .. ',"first":0'
            .. extra .. ',"items":[' .. table.concat(units, ",") .. "]}")
          if ok then
            assert.are.equal(3, #assert(p3, e3 and e3.message).items)
          else
            assert.are.equal(want, e3 and e3.message)
          end
        end
      end
      c:close()
      -- a full page is a page; soget.decode, which knows no query, takes any
      c = S.client{ base_url = S.fault_base("many-items:n=2") }
      page = assert(c:handling_units{ reference = "CGMU2436601", limit = 3 })
      assert.are.equal(3, #page.items)
      local c2 = S.client{ base_url = S.fault_base("many-items:n=20") }
      c2:set_token(assert(c:token()), 60)
      call = c2:begin{ reference = "MSCU", limit = 5 }
      local _, _, body25 = S.curl_send(assert(call:request()))
      assert.are.equal(25, #assert(require("soget").decode(body25)).items)
      c:close()
      c2:close()
    end)

    it("reads a large page within the cap", function()
      local c = S.client{ base_url = S.fault_base("large:events=500") }
      local page = assert(c:handling_units{ reference = "MSCU", limit = 10 })
      assert.are.equal(500, #page.items[1].events)
      c:close()
    end)

    it("fails with kind 'decode' on malformed JSON", function()
      local c = S.client{ base_url = S.fault_base("malformed") }
      local page, err = c:handling_units("CGMU2436601")
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      c:close()
    end)

    it("names the path of a field of the wrong type", function()
      local c = S.client{ base_url = S.fault_base("wrong-types") }
      local page, err = c:handling_units{ reference = "MSCU", limit = 5 }
      assert.is_nil(page)
      assert.are.equal("decode", err.kind)
      assert.truthy(err.message:find("items[2].events[1].eventDate: expected string, got number", 1, true),
        err.message)
      c:close()
    end)

    it("turns every null into nil and keeps arrays as tables", function()
      local c = S.client{ base_url = S.fault_base("nulls") }
      local page = assert(c:handling_units{ reference = "MSCU", limit = 5 })
      for _, hu in ipairs(page.items) do
        assert.is_nil(hu.reference)
        assert.are.same({}, hu.events)
        assert.are.same({}, hu.shipments)
        assert.are.same({}, hu.references)
        assert.are.same({}, hu.hazardousItems)
      end
      c:close()
    end)

    it("keeps unknown extra fields", function()
      local c = S.client{ base_url = S.fault_base("extra-fields") }
      local page = assert(c:handling_units("CGMU2436601"))
      local extras = 0
      local known = { total = 1, returned = 1, first = 1, items = 1 }
      for k in pairs(page) do if not known[k] then extras = extras + 1 end end
      assert.truthy(extras > 0, "an unknown top-level field is kept")
      assert.are.equal("CGMU2436601", page.items[1].reference)
      c:close()
    end)
  end)

  -- soget reads the proxy variables once per client and sets them on its
  -- handles (libcurl would read them on every transfer): the rules stay
  -- libcurl's. Each case runs in a process of its own, with only the
  -- variables it names.
  describe("proxies from the environment", function()
    local VARS = { "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY" }

    -- A loopback port nothing listens on: a proxy there refuses at once.
    local dead
    local function dead_proxy()
      if not dead then
        local port = S.popen_read([[bash -c 'for p in 9 47 1 2 3 4 5 6 8 10; do ]] ..
          [[(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; exit; }; done']])
        dead = "http://127.0.0.1:" .. assert(port:match("%d+"), "no free loopback port")
      end
      return dead
    end

    -- One lookup in a child process with env (a table of variables) and
    -- the sandbox's plain-HTTP or HTTPS origin; "ok", or the error's kind.
    local function lookup(env, scheme, origin)
      local o = S.options{ retries = 0, timeout = 5, gzip = false }
      if scheme == "http" then
        o.base_url = o.base_url:gsub("^https://[^/]+", origin or S.http)
        o.token_url = o.token_url:gsub("^https://[^/]+", origin or S.http)
      end
      local cmd = { "env" }
      for _, v in ipairs(VARS) do cmd[#cmd + 1] = "-u " .. v end
      for k, v in pairs(env) do cmd[#cmd + 1] = k .. "=" .. S.shell_quote(v) end
      local opts = {}
      for k, v in pairs(o) do
        opts[#opts + 1] = k .. "=" .. (type(v) == "string" and ("%q"):format(v) or tostring(v))
      end
      cmd[#cmd + 1] = S.shell_quote(S.lua) .. " -e " .. S.shell_quote(
        "package.cpath=" .. ("%q"):format(package.cpath) .. ";" ..
        "local o={" .. table.concat(opts, ",") .. "};" ..
        "local c=require'soget'.client(o);" ..
        "local p,e=c:handling_units('CGMU2436601');" ..
        "io.write(p and 'ok' or e.kind)")
      return S.popen_read(table.concat(cmd, " ") .. " 2>&1")
    end

    -- The same lookup over HTTPS, answering the error as "kind: message".
    local function lookup_error(env)
      local cmd = { "env" }
      for _, v in ipairs(VARS) do cmd[#cmd + 1] = "-u " .. v end
      for k, v in pairs(env) do cmd[#cmd + 1] = k .. "=" .. S.shell_quote(v) end
      cmd[#cmd + 1] = S.shell_quote(S.lua) .. " -e " .. S.shell_quote(
        "package.cpath=" .. ("%q"):format(package.cpath) .. ";" ..
        "local c=require'soget'.client{access_token='static-token',api_key='k-1234',retries=0," ..
        "timeout=5,base_url=" .. ("%q"):format(S.base_url) .. "};" ..
        "local p,e=c:handling_units('CGMU2436601');" ..
        "io.write(p and 'ok' or (e.kind .. ': ' .. e.message .. ' | ' .. tostring(e)))")
      return S.popen_read(table.concat(cmd, " ") .. " 2>&1")
    end

    local cases = {
      -- env (DEAD: the dead proxy), scheme, expected
      { "http_proxy sends plain HTTP through the proxy", { http_proxy = "DEAD" }, "http", "network" },
      { "no_proxy lets a listed host through", { http_proxy = "DEAD", no_proxy = "127.0.0.1" }, "http", "ok" },
      { "NO_PROXY does when no_proxy is unset", { http_proxy = "DEAD", NO_PROXY = "127.0.0.1" }, "http", "ok" },
      { "no_proxy=* lets every host through", { http_proxy = "DEAD", no_proxy = "*" }, "http", "ok" },
      { "no_proxy naming another host does not", { http_proxy = "DEAD", no_proxy = "example.com" }, "http", "network" },
      { "HTTP_PROXY is ignored (libcurl never reads it)", { HTTP_PROXY = "DEAD" }, "http", "ok" },
      { "all_proxy serves plain HTTP", { all_proxy = "DEAD" }, "http", "network" },
      { "ALL_PROXY serves plain HTTP", { ALL_PROXY = "DEAD" }, "http", "network" },
      { "an empty http_proxy counts as unset: all_proxy applies", { http_proxy = "", all_proxy = "DEAD" }, "http", "network" },
      { "https_proxy is not for plain HTTP", { https_proxy = "DEAD" }, "http", "ok" },
      { "https_proxy sends HTTPS through the proxy", { https_proxy = "DEAD" }, "https", "network" },
      { "HTTPS_PROXY does too", { HTTPS_PROXY = "DEAD" }, "https", "network" },
      { "all_proxy serves HTTPS", { all_proxy = "DEAD" }, "https", "network" },
      { "http_proxy is not for HTTPS", { http_proxy = "DEAD" }, "https", "ok" },
      { "no_proxy lets an HTTPS host through", { https_proxy = "DEAD", no_proxy = "127.0.0.1" }, "https", "ok" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local env = {}
        for k, v in pairs(c[2]) do env[k] = v == "DEAD" and dead_proxy() or v end
        assert.are.equal(c[4], lookup(env, c[3]))
      end)
    end

    it("never shows a proxy's user and password in an error", function()
      -- libcurl quotes a proxy URL it cannot use, password included; one
      -- from the environment is not checked when the client is made
      for _, proxy in ipairs({ "htps://alice:S3cret-Pw0rd@proxy.example:3128",
                               "http://alice:S3cret-Pw0rd@proxy ex:3128",
                               "socks9://alice:S3cret-Pw0rd@127.0.0.1:1" }) do
        local out = lookup_error({ https_proxy = proxy })
        assert.truthy(out:find("^network: "), out)
        assert.is_nil(out:find("S3cret", 1, true), out)
        assert.is_nil(out:find("alice", 1, true), out)
      end
    end)

    it("reaches a host only the proxy knows", function()
      -- The sandbox's nginx serves a request in absolute form as a proxy
      -- would forward it: a host that does not resolve is reached only
      -- through http_proxy.
      S.reset()
      local far = "http://soget-proxy-test.invalid"
      assert.are.equal("network", lookup({}, "http", far))
      assert.are.equal("ok", lookup({ http_proxy = S.http }, "http", far))
      local st = S.stats()
      assert.are.equal(1, st.token_requests)
      assert.are.equal(1, st.api_requests)
    end)
  end)
end)
