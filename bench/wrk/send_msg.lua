-- wrk script for the load benchmark: POSTs signed Group.CallbackAfterSendMsg callbacks,
-- each with its own (GroupId, MsgSeq) so that none is a duplicate.
--
-- Environment (set by bench/load_bench.ts):
--   BENCH_QUERY   the signed query string (SdkAppid, CallbackCommand, RequestTime, Sign, ...)
--   BENCH_OFFSET  added to every MsgSeq, so runs against one journal never collide
--   BENCH_GROUPS  how many groups the messages are spread over
-- done() prints one line "WRK_JSON {...}" with the totals and latency percentiles (µs).

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- bench/wrk/_message.lua, beside this script.
local message = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "_message.lua")
local counter = 0

function request()
  counter = counter + 1
  -- wrk runs at most 64 threads here: thread_index keeps the sequences disjoint.
  return message(counter * 64 + thread_index)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p99_us":%d,"max_us":%d,"min_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout, latency:percentile(50),
    latency:percentile(99), latency.max, latency.min, latency.mean))
end
