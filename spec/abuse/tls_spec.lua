-- Abuse: TLS servers soget must refuse. The setup makes a throwaway CA and
-- certificates with the openssl command line in a temporary directory and
-- serves each from `openssl s_server -www` on a free 127.0.0.1 port;
-- teardown stops every server by its PID and removes the directory.
local S = require "support"
local W = require "abuse.watch"

local q = S.shell_quote

local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"exit=$?\""))
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit=(%d+)%s*$"))
  return code, (out:gsub("exit=%d+%s*$", ""))
end

local function must(cmd)
  local code, out = sh(cmd)
  assert(code == 0, cmd .. "\n" .. out)
  return out
end

describe("abuse: TLS", function()
  local dir, servers = nil, {}

  local function leaf(name, ext, dates)
    local key, csr, pem = dir .. "/" .. name .. ".key", dir .. "/" .. name .. ".csr",
      dir .. "/" .. name .. ".pem"
    must(("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes " ..
      "-keyout %s -out %s -subj /CN=%s"):format(q(key), q(csr), name))
    local extfile = dir .. "/" .. name .. ".ext"
    local f = assert(io.open(extfile, "w"))
    f:write(ext, "\n")
    f:close()
    if dates then
      -- openssl ca sets any validity period, including one in the past
      must(("openssl ca -batch -config %s -in %s -out %s -extfile %s -startdate %s -enddate %s -notext")
        :format(q(dir .. "/ca.cnf"), q(csr), q(pem), q(extfile), dates[1], dates[2]))
    else
      must(("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -out %s -days 2 -extfile %s")
        :format(q(csr), q(dir .. "/ca.pem"), q(dir .. "/ca.key"), q(pem), q(extfile)))
    end
    return pem, key
  end

  -- Starts s_server on a free port (a few tries); returns the port.
  local function serve(name, pem, key, extra)
    for _ = 1, 10 do
      local port = math.random(20000, 60000)
      local log = dir .. "/" .. name .. ".log"
      local pid = must(("openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -www -naccept 50 %s" ..
        "> %s 2>&1 < /dev/null & echo $!"):format(port, q(pem), q(key), extra or "", q(log))):match("(%d+)")
      for _ = 1, 50 do   -- up to 5 s for the socket
        local code = sh("grep -q ACCEPT " .. q(log))   -- s_server listens
        if code == 0 then servers[#servers + 1] = pid; return port end
        if sh("kill -0 " .. pid) ~= 0 then break end   -- could not bind: another port
        sh("sleep 0.1")
      end
      sh("kill " .. pid .. " 2>/dev/null")
    end
    error("could not start openssl s_server for " .. name)
  end

  local ports = {}
  setup(function()
    math.randomseed(os.time())
    dir = must("mktemp -d"):match("^%s*(.-)%s*$")
    must(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 " ..
      "-keyout %s -out %s -subj /CN=soget-abuse-ca"):format(q(dir .. "/ca.key"), q(dir .. "/ca.pem")))
    local cnf = assert(io.open(dir .. "/ca.cnf", "w"))
    cnf:write(([[
[ ca ]
default_ca = abuse
[ abuse ]
dir = %s
database = $dir/index.txt
new_certs_dir = $dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
default_md = sha256
policy = anything
copy_extensions = none
[ anything ]
commonName = supplied
]]):format(dir))
    cnf:close()
    must(("touch %s && echo 1000 > %s"):format(q(dir .. "/index.txt"), q(dir .. "/serial")))
    local ip = "subjectAltName = IP:127.0.0.1"
    local good, good_key = leaf("good", ip)
    local wrong, wrong_key = leaf("wronghost", "subjectAltName = DNS:wrong.example")
    local old, old_key = leaf("expired", ip, { "20200101000000Z", "20200102000000Z" })
    local selfkey, selfpem = dir .. "/self.key", dir .. "/self.pem"
    must(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 " ..
      "-keyout %s -out %s -subj /CN=self -addext %s"):format(q(selfkey), q(selfpem), q(ip)))
    ports.good = serve("good", good, good_key)
    ports.wronghost = serve("wronghost", wrong, wrong_key)
    ports.expired = serve("expired", old, old_key)
    ports.untrusted = serve("untrusted", selfpem, selfkey)
    -- servers that want a client certificate (soget has none to give)
    local ca = q(dir .. "/ca.pem")
    ports.certreq13 = serve("certreq13", good, good_key, "-Verify 1 -CAfile " .. ca .. " -tls1_3 ")
    ports.certreq12 = serve("certreq12", good, good_key, "-Verify 1 -CAfile " .. ca .. " -tls1_2 ")
    -- one that resumes no session: each connection is verified again
    ports.noresume = serve("noresume", good, good_key, "-no_cache -no_ticket ")
  end)

  teardown(function()
    for _, pid in ipairs(servers) do sh("kill " .. pid .. " 2>/dev/null") end
    if dir then sh("rm -rf " .. q(dir)) end
  end)

  local function try(port, extra)
    local o = {
      api_key = S.api_key, access_token = "abuse-static-token",
      base_url = ("https://127.0.0.1:%d/api-tracing-code/v1"):format(port),
      token_url = ("https://127.0.0.1:%d/token"):format(port),
      ca_file = dir .. "/ca.pem", timeout = 5, retries = 2,
    }
    for k, v in pairs(extra or {}) do o[k] = v end
    local c = require("soget").client(o)
    local page, err = W.see(c:handling_units("CGMU2436601"))
    local stats = c:stats()
    W.see(c)
    c:close()
    return page, err, stats
  end

  it("reaches the good server (so the failures below are the certificates')", function()
    local page, err = try(ports.good)
    assert.is_nil(page)
    assert.are.equal("decode", err.kind, tostring(err))   -- s_server -www answers HTML
  end)

  for _, case in ipairs{
    { "untrusted", "a certificate from an untrusted CA" },
    { "wronghost", "a certificate for another host name" },
    { "expired", "an expired certificate" },
    -- TLS 1.3 sends its alert after the handshake, at the first read
    -- (libcurl: a receive error): it was a network failure, retried
    { "certreq13", "a TLS 1.3 server that wants a client certificate" },
    { "certreq12", "a TLS 1.2 server that wants a client certificate" },
  } do
    it("refuses " .. case[2] .. " with kind 'tls', not retried", function()
      local page, err, stats = try(ports[case[1]])
      assert.is_nil(page)
      assert.are.equal("tls", err.kind, tostring(err))
      assert.is_false(err.retryable)
      assert.are.equal(0, stats.retries)
    end)
  end

  it("says tls for a handshake refused after another connection of the client failed", function()
    -- libcurl keeps the system's error number of a handle's earlier
    -- transfer: after a refused connection, every TLS alert was taken for
    -- a connection failure (network, retried)
    local c = require("soget").client {
      api_key = S.api_key, client_id = "abuse-id", client_secret = "abuse-secret-0123456789",
      base_url = ("https://127.0.0.1:%d/api-tracing-code/v1"):format(ports.certreq12),
      token_url = "https://127.0.0.1:1/token", ca_file = dir .. "/ca.pem", timeout = 5, retries = 2,
    }
    local page, err = W.see(c:handling_units("CGMU2436601"))
    assert.is_nil(page)
    assert.are.equal("network", err.kind, tostring(err))   -- the token host refused
    c:set_token("abuse-static-token", 600)
    page, err = W.see(c:handling_units("CGMU2436601"))
    assert.is_nil(page)
    assert.are.equal("tls", err.kind, tostring(err))
    assert.is_false(err.retryable)
    assert.are.equal(0, c:stats().retries)
    W.see(c)
    c:close()
  end)

  it("reads ca_file at each new connection, the blocking client and a batch alike", function()
    -- libcurl kept the store it read first for a day in the blocking
    -- handle, while a batch's handles read the file again
    local bundle = dir .. "/bundle.pem"
    must(("cp %s %s"):format(q(dir .. "/ca.pem"), q(bundle)))
    local c = require("soget").client {
      api_key = S.api_key, access_token = "abuse-static-token", ca_file = bundle, timeout = 5,
      base_url = ("https://127.0.0.1:%d/api-tracing-code/v1"):format(ports.noresume), retries = 0,
    }
    local function reach()   -- s_server -www closes each connection: a new one each time
      local _, err = W.see(c:handling_units("CGMU2436601"))
      local r = W.see(c:handling_units_many({ "CGMU2436601" })[1])
      return err.kind, r.kind
    end
    assert.are.same({ "decode", "decode" }, { reach() })   -- trusted (-www answers HTML)
    must(("cp %s %s"):format(q(dir .. "/self.pem"), q(bundle)))   -- another CA
    assert.are.same({ "tls", "tls" }, { reach() })
    must(("cp %s %s"):format(q(dir .. "/ca.pem"), q(bundle)))
    assert.are.same({ "decode", "decode" }, { reach() })
    -- a FIFO there since the client was made: refused, not opened (the
    -- open would wait for a writer past every timeout)
    must(("rm %s && mkfifo %s"):format(q(bundle), q(bundle)))
    local page, err = W.see(c:handling_units("CGMU2436601"))
    assert.is_nil(page)
    assert.are.same({ "tls", false }, { err.kind, err.retryable })
    assert.truthy(err.message:find("is not a regular file", 1, true), err.message)
    W.see(c)
    c:close()
    must("rm " .. q(bundle))
  end)

  it("accepts them only with verify_tls = false", function()
    local page, err = try(ports.expired, { verify_tls = false })
    assert.is_nil(page)
    assert.are.equal("decode", err.kind, tostring(err))
  end)

  it("leaks no secret into anything it produced", function()
    W.check()
  end)
end)
