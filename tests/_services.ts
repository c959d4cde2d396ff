/**
 * Throwaway PostgreSQL and NATS servers for the tests and benchmarks of the scale-out plugins:
 * a cluster made by `initdb` in a temporary folder, and a `nats-server -js` with a temporary
 * store, each listening on a free port of 127.0.0.1 and removed on dispose. No mocks: when a
 * server binary is missing the helper throws, so the test fails and says what to install
 * (`.ci/run` installs Debian's `postgresql` and `nats-server`).
 *
 * @module
 */
import { vacantPort } from "./_ports.ts";

/** A running throwaway PostgreSQL cluster. */
export interface PostgresServer extends AsyncDisposable {
  /** `postgres://imhookd:PASSWORD@127.0.0.1:PORT/postgres`, the superuser's URL. */
  url: string;
  /** The superuser's password, which appears in `url` (tests check it is never logged). */
  password: string;
  port: number;
  /** The URL of database `name` on this cluster (create it first, e.g. with {@linkcode createDatabase}). */
  urlOf(name: string): string;
  /** Stops the server at once (`pg_ctl stop -m immediate`); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** A running throwaway `nats-server -js`. */
export interface NatsServer extends AsyncDisposable {
  /** `127.0.0.1:PORT`, as `servers` takes it. */
  server: string;
  port: number;
  /** Stops the process (SIGTERM, then waits); the JetStream store stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  start(): Promise<void>;
}

/** The OS user that PostgreSQL's programs run as when the tests run as root. */
const PG_USER = "postgres";
/** Bounded waits for a server to come up: generous, for a busy machine. */
const START_TIMEOUT_MS = 60_000;

/** Where Debian keeps the PostgreSQL server programs, newest major version first. */
async function postgresBinDir(): Promise<string> {
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const version of versions.sort((a, b) => b - a)) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (await exists(`${dir}/initdb`) && await exists(`${dir}/pg_ctl`)) return dir;
  }
  throw new TypeError(
    'Cannot start PostgreSQL "/usr/lib/postgresql/*/bin/initdb": not installed; ' +
      "install Debian's postgresql package (apt-get install postgresql; .ci/run does)",
  );
}

async function natsServerPath(): Promise<string> {
  for (
    const path of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
  ) {
    if (await exists(path)) return path;
  }
  throw new TypeError(
    'Cannot start NATS "nats-server": not installed; install Debian\'s nats-server package ' +
      "(apt-get install nats-server; .ci/run does)",
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs a program (as `postgres` when we are root) and throws with its output if it fails. */
async function run(program: string, args: string[], asPostgres: boolean): Promise<string> {
  const [command, allArgs] = asPostgres && Deno.uid() === 0
    ? ["runuser", ["-u", PG_USER, "--", program, ...args]]
    : [program, args];
  const output = await new Deno.Command(command, {
    args: allArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
  if (!output.success) {
    throw new Error(`${program} ${args.join(" ")} failed (exit ${output.code}):\n${text}`);
  }
  return text;
}

/**
 * Makes a cluster with `initdb` in a temporary folder (owned by `postgres` when we are root)
 * with password authentication over TCP, starts it on a free port of 127.0.0.1 without
 * fsync, and returns it; dispose stops it and removes the folder.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  const dir = await Deno.makeTempDir({ prefix: "imhookd-pg-" });
  try {
    if (Deno.uid() === 0) {
      const uid = Number((await run("id", ["-u", PG_USER], false)).trim());
      const gid = Number((await run("id", ["-g", PG_USER], false)).trim());
      await Deno.chown(dir, uid, gid);
    }
    const password = `pw${crypto.randomUUID().replaceAll("-", "")}`;
    await Deno.writeTextFile(`${dir}/pwfile`, password + "\n");
    if (Deno.uid() === 0) await run("chown", [PG_USER, `${dir}/pwfile`], false);
    await run(`${bin}/initdb`, [
      "-D",
      `${dir}/data`,
      "-U",
      "imhookd",
      `--pwfile=${dir}/pwfile`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ], true);
    let port = 0;
    const stopAny = (): Promise<unknown> =>
      run(`${bin}/pg_ctl`, ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"], true)
        .catch(() => {});
    const start = async (): Promise<void> => {
      await run(`${bin}/pg_ctl`, [
        "-D",
        `${dir}/data`,
        "-l",
        `${dir}/log`,
        "-w",
        "-t",
        String(START_TIMEOUT_MS / 1000),
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -F -c max_connections=60 -c autovacuum=off`,
        "start",
      ], true);
    };
    // Another process may take the port between vacantPort() and the server's bind: try again.
    for (let tries = 1;; tries++) {
      port = await vacantPort();
      try {
        await start();
        break;
      } catch (error) {
        // pg_ctl gave up waiting (a busy machine) or the port was taken: a postmaster may
        // still be starting, and would outlive the test. Stop whatever runs on this folder.
        await stopAny();
        if (tries >= 3) throw error;
      }
    }
    let running = true;
    const stop = async (): Promise<void> => {
      if (!running) return;
      await run(`${bin}/pg_ctl`, ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"], true);
      running = false;
    };
    const urlOf = (name: string): string =>
      `postgres://imhookd:${password}@127.0.0.1:${port}/${name}`;
    return {
      url: urlOf("postgres"),
      password,
      port,
      urlOf,
      stop,
      async start() {
        if (running) return;
        await start();
        running = true;
      },
      async [Symbol.asyncDispose]() {
        try {
          await stop();
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Starts `nats-server -js` on a vacant port of 127.0.0.1 (below the ephemeral range, so that
 * a restart finds it free again) with its store in a temporary
 * folder; `config` is extra configuration file text (e.g. `authorization { token: "..." }`).
 * Dispose stops it and removes the folder.
 */
export async function startNats(config = ""): Promise<NatsServer> {
  const program = await natsServerPath();
  const dir = await Deno.makeTempDir({ prefix: "imhookd-nats-" });
  let child: Deno.ChildProcess | undefined;
  let draining: Promise<void> | undefined;
  let port = await vacantPort();
  const start = async (): Promise<void> => {
    await Deno.writeTextFile(
      `${dir}/nats.conf`,
      `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${dir}/store" }\n${config}\n`,
    );
    const process = new Deno.Command(program, {
      args: ["-c", `${dir}/nats.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    child = process;
    // Read its log until it listens, then keep draining it so the pipe never fills.
    const lines = process.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let log = "";
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (true) {
      const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match && /Server is ready/.test(log)) {
        port = Number(match[1]);
        break;
      }
      const { done, value } = await lines.read();
      if (done || Date.now() > deadline) {
        process.kill("SIGKILL");
        await process.status;
        throw new Error(`nats-server did not start:\n${log}`);
      }
      log += value;
    }
    draining = (async () => {
      while (!(await lines.read()).done);
    })().catch(() => {});
  };
  const stop = async (): Promise<void> => {
    const process = child;
    if (process === undefined) return;
    child = undefined;
    process.kill("SIGTERM");
    await process.status;
    await draining;
  };
  try {
    await start();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return {
    get server() {
      return `127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop,
    async start() {
      if (child === undefined) await start();
    },
    async [Symbol.asyncDispose]() {
      try {
        await stop();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}
