import assert from "node:assert/strict";
import { monotonicUsec, NotifyError, socketAddress, SystemdNotifier } from "./notify.ts";

Deno.test("notify: socketAddress keeps paths and turns @name into an abstract address", () => {
  assert.equal(socketAddress("/run/systemd/notify"), "/run/systemd/notify");
  assert.equal(socketAddress("@sd-notify/123"), "\0sd-notify/123");
  assert.throws(() => socketAddress("vsock:2:1234"), {
    name: "NotifyError",
    message: 'NOTIFY_SOCKET "vsock:2:1234" is neither a socket path nor an abstract "@name" socket',
  });
  assert.throws(() => socketAddress("@"), NotifyError);
});

Deno.test("notify: fromEnv reads NOTIFY_SOCKET and the watchdog meant for this process", () => {
  assert.equal(SystemdNotifier.fromEnv({}), undefined);
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "" }), undefined);
  const plain = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "/run/n" })!;
  assert.equal(plain.address, "/run/n");
  assert.equal(plain.watchdogUsec, undefined);
  const mine = SystemdNotifier.fromEnv({
    NOTIFY_SOCKET: "@n",
    WATCHDOG_USEC: "30000000",
    WATCHDOG_PID: String(Deno.pid),
  })!;
  assert.equal(mine.watchdogUsec, 30_000_000);
  const other = SystemdNotifier.fromEnv({
    NOTIFY_SOCKET: "@n",
    WATCHDOG_USEC: "30000000",
    WATCHDOG_PID: String(Deno.pid + 1),
  })!;
  assert.equal(other.watchdogUsec, undefined);
  assert.throws(() => SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "/run/n", WATCHDOG_USEC: "soon" }), {
    name: "NotifyError",
    message: 'WATCHDOG_USEC "soon" is not a positive number of microseconds',
  });
});

Deno.test("notify: monotonicUsec follows the kernel's clock and never goes back", () => {
  const [whole, hundredths] = Deno.readTextFileSync("/proc/uptime").split(" ")[0]!.split(".");
  const before = BigInt(whole!) * 1_000_000n + BigInt(hundredths!.padEnd(6, "0"));
  const first = monotonicUsec();
  const second = monotonicUsec();
  assert.ok(first >= before, `${first} >= ${before}`);
  assert.ok(first <= before + 1_100_000n, `${first} is within a second of ${before}`);
  assert.ok(second >= first);
});

Deno.test("notify: messages reach the socket in order, or a failure is logged, never thrown", async () => {
  if (typeof Deno.listenDatagram !== "function") {
    // Without --unstable-net (as `deno task test` runs) sending cannot work: it must not throw.
    await using notifier = new SystemdNotifier("/nonexistent/notify.sock");
    await notifier.ready();
    await notifier.stopping();
    return;
  }
  const dir = await Deno.makeTempDir();
  const socket = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/notify` });
  try {
    await using notifier = new SystemdNotifier(`${dir}/notify`, { monotonic: () => 42n });
    await Promise.all([notifier.ready(), notifier.reloading(), notifier.stopping()]);
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push(new TextDecoder().decode((await socket.receive())[0]));
    assert.deepEqual(got, ["READY=1", "RELOADING=1\nMONOTONIC_USEC=42", "STOPPING=1"]);
  } finally {
    socket.close();
    await Deno.remove(dir, { recursive: true });
  }
});
