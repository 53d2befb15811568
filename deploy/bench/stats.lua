-- wrk script of deploy/bench/stats.sh: counts what it received, for comparison with what
-- tuxedo stored. BENCH_MODE=rotate (default): each request takes the next URL of the list
-- in $BENCH_URLS (as rotate.lua); every 302 is a download, counted per mirror host and
-- product: the product is bench-<location / 5>, from the location index in the Location
-- path (/bench/<location>/...; seed_bench's paths, and the writes' too). BENCH_MODE=unknown:
-- random unknown product names (as unknown.lua). BENCH_TAIL=FILE: once FILE exists (looked
-- for every 100 requests), rotate mode sends unknown names too: a 404 is not a download, so
-- when stats.sh stops wrk a second later (SIGINT) no download is in flight, none that bounce
-- counted is missing from what wrk received. BENCH_LIMIT=N: each thread stops after N
-- responses (0: run for wrk's -d). done() prints, on stdout:
--   RESPONSES <n>            responses received (all statuses)
--   STATUS <code> <n>        per status
--   DOWNLOAD <host> <product> <n>   302s per Location host and product
--   BADLOCATION <n>          302s whose Location did not parse (should be 0)
local mode = os.getenv("BENCH_MODE") or "rotate"
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local urls = {}
if mode == "rotate" then
  for line in io.lines(os.getenv("BENCH_URLS")) do
    urls[#urls + 1] = line
  end
end

local threads = {}
local nthreads = 0
setup = function(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
  threads[#threads + 1] = thread
end

-- Per thread (globals, so that done() can read them with thread:get).
downloads = {}
statuses = {}
responses = 0
bad = 0

local i = 0
init = function(args)
  local t = tid or 1
  math.randomseed(os.time() * 1000 + t)
  if #urls > 0 then
    i = ((t - 1) * 7919) % #urls
  end
end

local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
local oses = { "win", "win64", "osx", "linux", "linux64" }
local tail_file = os.getenv("BENCH_TAIL")
local tail = false
local sent = 0
request = function()
  if tail_file and not tail then
    sent = sent + 1
    if sent % 100 == 0 then
      local f = io.open(tail_file)
      if f then
        f:close()
        tail = true
      end
    end
  end
  if mode == "unknown" or tail then
    local name = {}
    for k = 1, 16 do
      local c = math.random(#chars)
      name[k] = chars:sub(c, c)
    end
    return wrk.format("GET", "/?product=nope-" .. table.concat(name) .. "&os=" .. oses[math.random(5)] .. "&lang=en-US")
  end
  i = (i % #urls) + 1
  return wrk.format("GET", urls[i])
end

response = function(status, headers, body)
  responses = responses + 1
  local s = tostring(status)
  statuses[s] = (statuses[s] or 0) + 1
  if status == 302 then
    local loc = headers["Location"] or headers["location"] or ""
    local host, n = loc:match("^%a+://([^/]+)/.-/bench/(%d+)/")
    if host then
      local key = host .. " bench-" .. math.floor(tonumber(n) / 5)
      downloads[key] = (downloads[key] or 0) + 1
    else
      bad = bad + 1
    end
  end
  if limit > 0 and responses >= limit then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local total, all, st, b = 0, {}, {}, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("responses") or 0)
    b = b + (t:get("bad") or 0)
    for k, v in pairs(t:get("downloads") or {}) do
      all[k] = (all[k] or 0) + v
    end
    for k, v in pairs(t:get("statuses") or {}) do
      st[k] = (st[k] or 0) + v
    end
  end
  io.write(string.format("RESPONSES %d\n", total))
  io.write(string.format("BADLOCATION %d\n", b))
  for k, v in pairs(st) do
    io.write(string.format("STATUS %s %d\n", k, v))
  end
  for k, v in pairs(all) do
    io.write(string.format("DOWNLOAD %s %d\n", k, v))
  end
end
