-- wrk script for loadtest/run.sh: cycles through the request paths in $MIXED_REQUESTS (one
-- path with query per line, e.g. the generator's requests.txt), each thread from its own
-- starting point, and reports like report.lua.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local paths = {}
local file = assert(io.open(os.getenv("MIXED_REQUESTS") or "requests.txt", "r"))
for line in file:lines() do
  if line:sub(1, 1) == "/" then
    paths[#paths + 1] = line
  end
end
file:close()
assert(#paths > 0, "no request paths")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("first", counter * 7919)
end

local i
function request()
  if i == nil then
    i = first or 0
  end
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
