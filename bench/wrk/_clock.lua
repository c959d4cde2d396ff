-- Clocks for the wrk scripts, read through LuaJIT's FFI (os.time() counts whole seconds only).
-- Load with dofile(); it returns { realtime_ms = f, monotonic_us = f }.

local ffi = require("ffi")
-- pcall: fixed_rate.lua loads this file, then _message.lua loads it again, and LuaJIT refuses
-- to declare a C type twice.
pcall(ffi.cdef, [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *tp);
]])
local CLOCK_REALTIME = 0
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

return {
  -- Wall-clock time in whole milliseconds since the epoch.
  realtime_ms = function()
    ffi.C.clock_gettime(CLOCK_REALTIME, timespec)
    return tonumber(timespec.tv_sec) * 1000 + math.floor(tonumber(timespec.tv_nsec) / 1e6)
  end,
  -- Monotonic time in microseconds.
  monotonic_us = function()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
    return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
  end,
}
