-- Redis behind webdis: GET /GET/{key}, GET /SET/{key}/{value}. No /ctx/all equivalent
-- (Redis has no ordered range read of keys with values), so get_all is not run here.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/common.lua")

function get_key(k)
  return wrk.format("GET", "/GET/" .. k)
end

function put_key(k)
  return wrk.format("GET", "/SET/" .. k .. "/" .. random_text(value_bytes - 2))
end

function get_all()
  error("webdis has no get_all case")
end
