-- wrk script: every request names a random product that does not exist (case (d) of
-- release-day.sh). bounce must answer 404 from memory: no query, no memcached call, no
-- new cache entry, so RSS stays flat however many distinct names arrive.
local counter = 0
local chars = "abcdefghijklmnopqrstuvwxyz0123456789"
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end
local oses = { "win", "win64", "osx", "linux", "linux64" }
request = function()
  local name = {}
  for k = 1, 16 do
    local c = math.random(#chars)
    name[k] = chars:sub(c, c)
  end
  return wrk.format("GET", "/?product=nope-" .. table.concat(name) .. "&os=" .. oses[math.random(5)] .. "&lang=en-US")
end
