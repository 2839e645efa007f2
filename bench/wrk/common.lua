-- What bench/wrk's scripts share (driver.lua, flood.lua): loaded with
--   package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
--   local common = require("common")

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")

local common = {}

-- CLOCK_MONOTONIC seconds, the clock of Python's time.monotonic() (the measured windows are on it).
function common.monotonic()
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

function common.env(name, default)
  local value = os.getenv(name)
  if value == nil then return default end
  return value
end

-- wrk's threads, in the main state (setup() and done() run there): each told its number as "tid".
common.threads = {}

function common.setup(thread)
  thread:set("tid", #common.threads)
  table.insert(common.threads, thread)
end

return common
