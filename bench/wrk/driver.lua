-- One generic wrk script for every scenario of bench/run.py; configured through the environment:
--
--   BENCH_METHOD    GET or POST
--   BENCH_PATH      request path, may contain {item}
--   BENCH_HEADERS   header lines "Name: value" separated by "\n", may contain {item}
--   BENCH_BODY      request body, may contain {item}
--   BENCH_ITEMS     file with one item per line (a token, a code, a login); optional
--   BENCH_SINGLE    "1": every item is used once (codes, refresh tokens); "0": items are cycled
--   BENCH_EXPECT    the status every answer must have (200, 302)
--   BENCH_THREADS   number of wrk threads (-t), to share the items out
--   BENCH_OUT       where done() writes its JSON result
--   BENCH_WINDOW    "start end": CLOCK_MONOTONIC seconds of the measured window; answers that arrive in it
--                   are counted apart ("window_ok"), so ramp-up and wind-down stay out of the rates
--
-- Requests are built once in init(), so the load generator spends its time on sockets, not on Lua.
-- Single-use items are split between the threads; a thread that runs out stops and says so
-- ("exhausted" in the result), which bench/run.py reports as a failed run.

package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local monotonic, env, threads = common.monotonic, common.env, common.threads
setup = common.setup

local function fill(template, item)
  if item == nil then return template end
  return (template:gsub("{item}", function() return item end))
end

function init(args)
  local method = env("BENCH_METHOD", "GET")
  local path = env("BENCH_PATH", "/")
  local header_text = env("BENCH_HEADERS", "")
  local body = env("BENCH_BODY", "")
  local items_path = env("BENCH_ITEMS", "")
  local nthreads = tonumber(env("BENCH_THREADS", "1"))
  single = env("BENCH_SINGLE", "0") == "1"
  expect = tonumber(env("BENCH_EXPECT", "200"))
  ok, bad, sent, exhausted, window_ok = 0, 0, 0, 0, 0
  local window = env("BENCH_WINDOW", "0 0")
  local a, b = window:match("^(%S+) (%S+)$")
  window_start, window_end = tonumber(a), tonumber(b)
  statuses = {}

  local items = {}
  if items_path ~= "" then
    local index = 0
    for line in io.lines(items_path) do
      if line ~= "" then
        if index % nthreads == tid then table.insert(items, line) end
        index = index + 1
      end
    end
  else
    items = {false}
  end

  requests = {}
  for _, item in ipairs(items) do
    local it = item or nil
    local headers = {}
    for line in header_text:gmatch("[^\n]+") do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then headers[name] = fill(value, it) end
    end
    local b = nil
    if body ~= "" then b = fill(body, it) end
    table.insert(requests, wrk.format(method, fill(path, it), headers, b))
  end
  position = 0
end

function request()
  position = position + 1
  if position > #requests then
    if single then
      exhausted = exhausted + 1
      wrk.thread:stop()
      return requests[#requests]
    end
    position = 1
  end
  sent = sent + 1
  return requests[position]
end

function response(status, headers, body)
  if status == expect then
    ok = ok + 1
    local t = monotonic()
    if t >= window_start and t < window_end then window_ok = window_ok + 1 end
  else
    bad = bad + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
end

function done(summary, latency, requests_stats)
  local total_ok, total_bad, total_exhausted, total_window = 0, 0, 0, 0
  local bad_statuses = {}
  for _, thread in ipairs(threads) do
    total_ok = total_ok + (thread:get("ok") or 0)
    total_bad = total_bad + (thread:get("bad") or 0)
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
    total_window = total_window + (thread:get("window_ok") or 0)
    local st = thread:get("statuses") or {}
    for k, v in pairs(st) do bad_statuses[k] = (bad_statuses[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(bad_statuses) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  local out = io.open(env("BENCH_OUT", "/dev/stdout"), "w")
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "ok": %d, "bad": %d, "exhausted": %d, "window_ok": %d, "bad_statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
    summary.duration, summary.requests, total_ok, total_bad, total_exhausted, total_window, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  out:close()
end
