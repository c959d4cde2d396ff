-- The request both wrk scripts send: a signed Group.CallbackAfterSendMsg callback with a
-- realistic body, numbered n (its own GroupId/MsgSeq, so none is a duplicate).
--
-- Environment: BENCH_QUERY (the signed query string), BENCH_OFFSET (added to every MsgSeq, so
-- runs against one journal never collide), BENCH_GROUPS (how many groups the messages are
-- spread over). Load with dofile(); it returns message(n).

local query = os.getenv("BENCH_QUERY") or ""
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local groups = tonumber(os.getenv("BENCH_GROUPS") or "200")
-- EventTime is when the event happened, in ms (docs/protocol.md), so a stream's EventTimes rise
-- with the clock, as in bench/_callbacks.ts. bench/wrk/_clock.lua, beside this file.
local now_ms = dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "_clock.lua").realtime_ms

local headers = { ["Content-Type"] = "application/json" }
local texts = {
  "red packet",
  "see you at the meeting tomorrow, 10:00 in room 4",
  "好的，收到 👍",
  "https://example.com/some/shared/link?with=query",
}

return function(n)
  local seq = offset + n
  -- Both scripts number requests counter * 64 + thread: n % groups alone would reach only the
  -- groups that are multiples of gcd(64, groups) plus a thread index (50 of 200 with two threads).
  local group = (math.floor(n / 64) + n % 64) % groups
  local now = now_ms()
  local body = string.format(
    '{"CallbackCommand":"Group.CallbackAfterSendMsg","GroupId":"@TGS#bench%d","Type":"Public",'
      .. '"From_Account":"user%d","Operator_Account":"admin","Random":%d,"MsgSeq":%d,'
      .. '"MsgTime":%d,"OnlineOnlyFlag":0,"MsgBody":[{"MsgType":"TIMTextElem",'
      .. '"MsgContent":{"Text":"%s #%d"}}],"CloudCustomData":"","EventTime":"%d"}',
    group, n % 997, (n * 2654435761) % 4294967296, seq,
    math.floor(now / 1000), texts[(n % #texts) + 1], seq, now)
  return wrk.format("POST", wrk.path .. "?" .. query, headers, body)
end
