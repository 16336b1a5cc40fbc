-- wrk script of bench/host.sh: POST /subscribe, every request a new address, sent from one of
-- many client addresses in 127.0.0.0/8 (as X-Forwarded-For, which the host trusts from its
-- proxy 127.0.0.1), so that the per-client and per-address limits never refuse one. At the end it
-- prints `accepted N` (answers below 400) and `refused N`, summed over the threads.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local sent = 0
accepted = 0
refused = 0

function request()
  sent = sent + 1
  -- 50,000 client addresses spread over 127.0.0.0/8, taken in turn by up to four threads:
  -- far fewer signups per address than the hourly limit, and fewer clients than the host
  -- remembers. (wrk's LuaJIT has no bit operators: plain arithmetic.)
  local n = ((4 * sent + id) % 50000) * 317 + 1
  local client = string.format("127.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = string.format("email=bench-%d-%d%%40bench.example.org&name=Reader+%d&website=", id, sent, sent)
  return wrk.format("POST", "/subscribe", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Forwarded-For"] = client,
  }, body)
end

function response(status, headers, body)
  if status < 400 then
    accepted = accepted + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local a, r = 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("accepted")
    r = r + thread:get("refused")
  end
  io.write(string.format("accepted %d\nrefused %d\n", a, r))
end
