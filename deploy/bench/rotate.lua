-- wrk script: each request takes the next URL of the list in $BENCH_URLS (one path+query
-- per line), so the run covers the whole catalogue, not one hot key.
local urls = {}
for line in io.lines(os.getenv("BENCH_URLS")) do
  urls[#urls + 1] = line
end
local i = 0
request = function()
  i = (i % #urls) + 1
  return wrk.format("GET", urls[i])
end
