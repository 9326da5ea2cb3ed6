-- etcd v3 through its JSON gateway: POST /v3/kv/range and /v3/kv/put, keys and values
-- in base64. Values are random base64 text as long as the base64 of ctx's value
-- characters, so the stored bytes are the same size as ctx's.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/common.lua")

local json = { ["Content-Type"] = "application/json" }
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function b64(data)
  local out = {}
  for i = 1, #data, 3 do
    local a, b, c = data:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = alphabet:sub(c1 + 1, c1 + 1) .. alphabet:sub(c2 + 1, c2 + 1) ..
      (b and alphabet:sub(c3 + 1, c3 + 1) or "=") .. (c and alphabet:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local cache = {}
local function key64(k)
  local v = cache[k]
  if not v then
    v = b64(k)
    cache[k] = v
  end
  return v
end

local value_chars = math.ceil((value_bytes - 2) / 3) * 4

function get_key(k)
  return wrk.format("POST", "/v3/kv/range", json, '{"key":"' .. key64(k) .. '"}')
end

function put_key(k)
  return wrk.format("POST", "/v3/kv/put", json,
    '{"key":"' .. key64(k) .. '","value":"' .. random_text(value_chars) .. '"}')
end

-- A Txn: put the key only if it was never created (create_revision 0), as ctx's
-- if_revision 0. A key already claimed answers 200 with "succeeded" absent (false).
function claim_key(k)
  local k64 = key64(k)
  return wrk.format("POST", "/v3/kv/txn", json,
    '{"compare":[{"key":"' .. k64 .. '","target":"CREATE","create_revision":"0"}],' ..
    '"success":[{"request_put":{"key":"' .. k64 .. '","value":"' ..
    random_text(value_chars) .. '"}}]}')
end

-- Every key starting with "bench_": range_end is the prefix with its last byte + 1.
function get_all()
  return wrk.format("POST", "/v3/kv/range", json,
    '{"key":"' .. b64("bench_") .. '","range_end":"' .. b64("bench`") .. '"}')
end
