-- wrk script for fixed-rate latency runs (what wrk2's -R does): every wrk thread holds one
-- connection and sends on its own schedule, the threads' schedules interleaved, so that all of
-- them together send BENCH_RATE requests per second, signed Group.CallbackAfterSendMsg
-- callbacks as in send_msg.lua.
--
-- Each request's latency is counted from the later of its scheduled time and the moment it
-- was sent: a request held back because the previous answer on its connection came late is
-- charged that wait (no coordinated omission), one sent a little early is not credited for it.
--
-- Run with --threads=N --connections=N. Environment (set by bench/_wrk.ts):
--   BENCH_RATE   requests per second, all threads together
--   BENCH_THREADS  the --threads given to wrk
--   BENCH_QUERY, BENCH_OFFSET, BENCH_GROUPS   as in send_msg.lua
-- done() prints one line "WRK_JSON {...}" with the totals and latency percentiles (µs).

-- bench/wrk/_clock.lua and _message.lua, beside this script.
local here = debug.getinfo(1, "S").source:sub(2):match("^(.*/)")
local now_us = dofile(here .. "_clock.lua").monotonic_us

local rate = tonumber(os.getenv("BENCH_RATE") or "2000")
local threads = {}
-- The first request is due this long after setup, so that every thread has connected.
local START_AFTER_US = 300000

function setup(thread)
  if #threads == 0 then
    start_us = now_us() + START_AFTER_US
  end
  thread:set("thread_index", #threads)
  thread:set("start_us", start_us)
  table.insert(threads, thread)
end

local message = dofile(here .. "_message.lua")
local thread_count
local period_us
local k = 0
local due_us
local sent_us

-- Read back by done() through thread:get.
latencies = {}
late = 0
max_lag_us = 0
bad = 0

function init(args)
  thread_count = tonumber(os.getenv("BENCH_THREADS"))
  period_us = 1e6 / rate
end

local function next_due()
  return start_us + (thread_index + k * thread_count) * period_us
end

function delay()
  local wait_us = next_due() - now_us()
  if wait_us <= 0 then return 0 end
  return math.floor(wait_us / 1000)
end

function request()
  due_us = next_due()
  k = k + 1
  sent_us = now_us()
  local lag = sent_us - due_us
  if lag > max_lag_us then max_lag_us = lag end
  -- Sequences disjoint across threads (at most 64), as in send_msg.lua.
  return message(k * 64 + thread_index)
end

function response(status, headers, body)
  local done_us = now_us()
  local from = sent_us
  if sent_us > due_us then
    from = due_us
    late = late + 1
  end
  latencies[#latencies + 1] = done_us - from
  if status ~= 200 then bad = bad + 1 end
end

local function percentile(sorted, p)
  if #sorted == 0 then return 0 end
  local index = math.ceil(p / 100 * #sorted)
  if index < 1 then index = 1 end
  return sorted[index]
end

function done(summary, latency, requests)
  local all = {}
  local late_total, bad_total, lag = 0, 0, 0
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("latencies")) do all[#all + 1] = value end
    late_total = late_total + thread:get("late")
    bad_total = bad_total + thread:get("bad")
    lag = math.max(lag, thread:get("max_lag_us"))
  end
  table.sort(all)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"answered":%d,"late":%d,"max_lag_us":%d,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,'
      .. '"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, #all, late_total, lag, errors.connect, errors.read,
    errors.write, bad_total, errors.timeout, percentile(all, 50), percentile(all, 99),
    all[#all] or 0))
end
