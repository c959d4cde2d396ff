import assert from "node:assert/strict";
import { MetricBatch, METRICS, Metrics } from "./metrics.ts";

Deno.test("metrics: every declared metric renders, in declaration order, with its HELP and TYPE", () => {
  const text = new Metrics().render();
  const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(families, Object.values(METRICS).map((d) => [d.name, d.type]));
  for (const declaration of Object.values(METRICS)) {
    assert.ok(text.includes(`# HELP ${declaration.name} ${declaration.help}\n`), declaration.name);
  }
});

Deno.test("metrics: a series needs exactly the declared labels, in order", () => {
  const metrics = new Metrics();
  metrics.deliveries.inc({ plugin: "a", result: "ok" });
  assert.throws(() => metrics.deliveries.inc({ plugin: "a" }), {
    name: "TypeError",
    message:
      'Invalid labels {"plugin":"a"} of "imhookd_deliveries_total": expected ["plugin","result"]',
  });
  assert.throws(() => metrics.deliveries.inc({ result: "ok", plugin: "a" }), TypeError);
  assert.throws(() => metrics.inboxBacklog.set({ plugin: "a" }, 1), TypeError);
  assert.equal(metrics.deliveries.value({ plugin: "a", result: "ok" }), 1);
});

Deno.test("metrics: a batch applied elsewhere counts as recording there directly", () => {
  let recorded = 0;
  const batch = new MetricBatch(() => recorded++);
  const direct = new Metrics();
  const a = { plugin: "a" };
  const aOk = { plugin: "a", result: "ok" };
  for (const target of [batch.recorders, direct]) {
    target.deliveries.inc(aOk);
    target.deliveries.inc(aOk, 2);
    // The same labels in another object.
    target.deliveries.inc({ plugin: "a", result: "ok" });
    target.deliveries.inc({ plugin: "b", result: "dead" });
    target.deliverySeconds.observe(a, 0.002);
    target.deliverySeconds.observe(a, 3);
    target.deliverySeconds.observe({ plugin: "b" }, 0.5);
  }
  assert.equal(recorded, 7);
  assert.equal(batch.empty, false);
  const applied = new Metrics();
  // As postMessage carries them from the worker.
  applied.apply(structuredClone(batch.take()));
  assert.equal(batch.empty, true);
  assert.deepEqual(batch.take(), []);
  assert.equal(applied.render(), direct.render());
  assert.equal(applied.deliveries.value({ plugin: "a", result: "ok" }), 4);
  assert.match(applied.render(), /^imhookd_delivery_seconds_count\{plugin="a"\} 2$/m);
});
