-- wrk script for the load benchmark: POSTs signed Group.CallbackAfterSendMsg callbacks,
-- each with its own (GroupId, MsgSeq) so that none is a duplicate.
--
-- Environment (set by bench/load_bench.ts):
--   BENCH_QUERY   the signed query string (SdkAppid, CallbackCommand, RequestTime, Sign, ...)
--   BENCH_OFFSET  added to every MsgSeq, so runs against one journal never collide
--   BENCH_GROUPS  how many groups the messages are spread over
-- done() prints one line "WRK_JSON {...}" with the totals and latency percentiles (µs).

local query = os.getenv("BENCH_QUERY") or ""
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local groups = tonumber(os.getenv("BENCH_GROUPS") or "200")
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local counter = 0
local path
local headers = { ["Content-Type"] = "application/json" }
local texts = {
  "red packet",
  "see you at the meeting tomorrow, 10:00 in room 4",
  "好的，收到 👍",
  "https://example.com/some/shared/link?with=query",
}

function init(args)
  path = wrk.path .. "?" .. query
end

function request()
  counter = counter + 1
  -- wrk runs at most 64 threads here: thread_index keeps the sequences disjoint.
  local n = counter * 64 + thread_index
  local seq = offset + n
  local group = n % groups
  local body = string.format(
    '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#bench%d","Type":"Public",'
      .. '"From_Account":"user%d","Operator_Account":"admin","Random":%d,"MsgSeq":%d,'
      .. '"MsgTime":%d,"OnlineOnlyFlag":0,"MsgBody":[{"MsgType":"TIMTextElem",'
      .. '"MsgContent":{"Text":"%s #%d"}}],"CloudCustomData":"","EventTime":"%d"}',
    group, n % 997, (n * 2654435761) % 4294967296, seq,
    os.time(), texts[(n % #texts) + 1], seq, os.time() * 1000 + (n % 1000))
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,'
      .. '"p50_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read,
    errors.write, errors.status, errors.timeout, latency:percentile(50),
    latency:percentile(99), latency.max, latency.mean))
end
