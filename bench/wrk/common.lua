-- Shared by the wrk scripts in this folder (loaded with dofile by ctx.lua, etcd.lua,
-- webdis.lua). A flavor script defines get_key(k), put_key(k) and, when it can,
-- get_all(); this file picks the request for the case and prints the result as JSON.
--
-- Settings come from the environment (bench/run sets them):
--   BENCH_MODE        get_hot | get_random | post_random | mixed | get_all | cas_claim | incr
--                     (cas_claim: create a random key only if absent, claim_key(k);
--                      incr: add 1 to one of BENCH_COUNTERS counters, incr_key(k))
--   BENCH_KEYS        key space for random keys (keys are bench_0000000 ... )
--   BENCH_VALUE_BYTES size of written values (ctx: JSON text incl. quotes)
--   BENCH_WRITE_PCT   share of writes in `mixed` (default 20)

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

mode = env("BENCH_MODE", "get_random")
keys = tonumber(env("BENCH_KEYS", "100000"))
value_bytes = tonumber(env("BENCH_VALUE_BYTES", "200"))
write_pct = tonumber(env("BENCH_WRITE_PCT", "20"))
counters = tonumber(env("BENCH_COUNTERS", "16"))

function key(i)
  return string.format("bench_%07d", i)
end

function random_key()
  return key(math.random(0, keys - 1))
end

-- Values: random slices of a random pool of letters and digits (valid in a URL path, in
-- a JSON string, and as base64 text), so every write changes the stored value.
local pool
local function make_pool()
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
  local t = {}
  for i = 1, 16384 do
    local c = math.random(1, #chars)
    t[i] = chars:sub(c, c)
  end
  pool = table.concat(t)
end

function random_text(n)
  local o = math.random(1, #pool - n + 1)
  return pool:sub(o, o + n - 1)
end

local thread_count = 0
function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  make_pool()
end

local hot
function request()
  if mode == "get_hot" then
    hot = hot or get_key(key(0))
    return hot
  elseif mode == "get_random" then
    return get_key(random_key())
  elseif mode == "post_random" then
    return put_key(random_key())
  elseif mode == "mixed" then
    if math.random(1, 100) <= write_pct then
      return put_key(random_key())
    end
    return get_key(random_key())
  elseif mode == "get_all" then
    hot = hot or get_all()
    return hot
  elseif mode == "cas_claim" then
    return claim_key(random_key())
  elseif mode == "incr" then
    return incr_key(string.format("counter_%02d", math.random(0, counters - 1)))
  end
  error("unknown BENCH_MODE " .. mode)
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
