-- The credential-stuffing flood of bench/run.py --flood (bench/flood.py): POST /login with a wrong password for
-- a random login (known accounts and unknown ones mixed) from a random X-Forwarded-For address. Configured
-- through the environment:
--
--   FLOOD_ITEMS     file of lines "login<TAB>address" (login already form-encoded), shuffled by the caller
--   FLOOD_COOKIE    the session cookie of one GET /login ("name=value"), sent with every request
--   FLOOD_CSRF      its csrf_token
--   FLOOD_PASSWORD  the wrong password (form-encoded)
--   FLOOD_THREADS   number of wrk threads (-t), to share the items out
--   FLOOD_WINDOW    "start end": CLOCK_MONOTONIC seconds of the measured window
--   FLOOD_OUT       where done() writes its JSON result
--
-- Requests are built once in init() and cycled. response() tallies every answer by status, over the whole run
-- and inside the window (the rates are the window's).

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local monotonic, env, threads = common.monotonic, common.env, common.threads
setup = common.setup

function init(args)
  local nthreads = tonumber(env("FLOOD_THREADS", "1"))
  local cookie = env("FLOOD_COOKIE", "")
  local csrf = env("FLOOD_CSRF", "")
  local password = env("FLOOD_PASSWORD", "wrong")
  local window = env("FLOOD_WINDOW", "0 0")
  local a, b = window:match("^(%S+) (%S+)$")
  window_start, window_end = tonumber(a), tonumber(b)
  statuses, window_statuses = {}, {}
  requests = {}
  local index = 0
  for line in io.lines(env("FLOOD_ITEMS", "")) do
    local login, address = line:match("^([^\t]+)\t(.+)$")
    if login then
      if index % nthreads == tid then
        local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie,
                         ["X-Forwarded-For"] = address}
        local body = "login=" .. login .. "&password=" .. password .. "&csrf_token=" .. csrf
        table.insert(requests, wrk.format("POST", "/login", headers, body))
      end
      index = index + 1
    end
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then position = 1 end
  return requests[position]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  local t = monotonic()
  if t >= window_start and t < window_end then
    window_statuses[key] = (window_statuses[key] or 0) + 1
  end
end

local function add(into, from)
  for k, v in pairs(from or {}) do into[k] = (into[k] or 0) + v end
end

local function json_map(map)
  local parts = {}
  for k, v in pairs(map) do table.insert(parts, string.format('"%s": %d', k, v)) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests_stats)
  local all, win = {}, {}
  for _, thread in ipairs(threads) do
    add(all, thread:get("statuses"))
    add(win, thread:get("window_statuses"))
  end
  local e = summary.errors
  local out = io.open(env("FLOOD_OUT", "/dev/stdout"), "w")
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "statuses": %s, "window_statuses": %s, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d}}\n',
    summary.duration, summary.requests, json_map(all), json_map(win),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
  out:close()
end
