import assert from "node:assert/strict";
import { parseDuration, parseSize } from "./units.ts";

Deno.test("parseDuration: a number with its unit, in ms", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("60s"), 60_000);
  assert.equal(parseDuration(" 1.5m "), 90_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration: a bare number is an error, never milliseconds", () => {
  for (const value of [60, "60", 0]) {
    assert.throws(() => parseDuration(value), {
      name: "RangeError",
      message:
        `Cannot parse duration "${value}": a duration needs a unit (ms, s, m, h or d), e.g. ${value}s or ${value}ms`,
    });
  }
  assert.throws(() => parseDuration("soon"), {
    name: "RangeError",
    message:
      'Cannot parse duration "soon": expected a number with a unit such as 500ms, 10s, 5m, 2h or 7d',
  });
  assert.throws(() => parseDuration(-5), { name: "RangeError" });
});

Deno.test("parseSize: a unit is needed, a bare number is bytes only where the key says bytes", () => {
  assert.equal(parseSize("512KiB"), 524_288);
  assert.equal(parseSize("10MiB"), 10_485_760);
  assert.equal(parseSize("1 GB"), 1_000_000_000);
  assert.equal(parseSize("100b"), 100);
  assert.equal(parseSize(1048576, { bareBytes: true }), 1_048_576);
  assert.equal(parseSize("2048", { bareBytes: true }), 2048);
  assert.throws(() => parseSize(256), {
    name: "RangeError",
    message:
      'Cannot parse size "256": a size needs a unit (b, KiB, MiB, GiB, kB, MB, GB), e.g. 256MiB',
  });
  assert.throws(() => parseSize("1.5", { bareBytes: true }), {
    name: "RangeError",
    message: 'Cannot parse size "1.5": expected a whole number of bytes',
  });
  assert.throws(() => parseSize("ten"), {
    name: "RangeError",
    message: 'Cannot parse size "ten": expected a number with a unit such as 512KiB or 10MiB',
  });
});
