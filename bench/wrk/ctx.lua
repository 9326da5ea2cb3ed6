-- ctx's API (and the baseline, which answers the same routes):
--   GET /ctx/{key}, POST /ctx {"key","value","who"}, GET /ctx/all
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/common.lua")

local json = { ["Content-Type"] = "application/json" }

function get_key(k)
  return wrk.format("GET", "/ctx/" .. k)
end

function put_key(k)
  return wrk.format("POST", "/ctx", json,
    '{"key":"' .. k .. '","value":"' .. random_text(value_bytes - 2) .. '","who":"bench"}')
end

-- Created only if absent (if_revision 0); a key already claimed answers 409.
function claim_key(k)
  return wrk.format("POST", "/ctx", json,
    '{"key":"' .. k .. '","value":"' .. random_text(value_bytes - 2) ..
    '","who":"bench","if_revision":0}')
end

function incr_key(k)
  return wrk.format("POST", "/ctx/incr", json, '{"key":"' .. k .. '","who":"bench"}')
end

function get_all()
  return wrk.format("GET", "/ctx/all")
end
