/**
 * The README's first-plugin walkthrough, run as written in a copy of the repository: its files
 * written from its code blocks, its commands run one by one with bash (`serve` in the
 * background, as "another terminal"), and what it says they print checked. The only thing the
 * test adds is the environment: free ports for config.example.yaml's listeners.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { eventually, ROOT, serveCommand } from "./_helpers.ts";
import { vacantPort } from "./_ports.ts";

const cliTask: string = denoJson.tasks.cli;

/** The section's code blocks, in order: a file (`// my/x.ts: ...` first) or shell commands. */
type Step = { file: string; text: string } | { commands: string[] };

function walkthrough(readme: string): Step[] {
  const start = readme.indexOf("## Your first plugin");
  const end = readme.indexOf("\n## ", start + 1);
  assert.ok(start >= 0 && end > start, "the README has its first-plugin section");
  const steps: Step[] = [];
  for (const [, lang, body] of readme.slice(start, end).matchAll(/```(\w+)\n([\s\S]*?)```/g)) {
    if (lang === "ts") {
      const file = /^\/\/ (my\/\S+?):/.exec(body!)?.[1];
      assert.ok(file, `a ts block names its file on its first line: ${body!.slice(0, 60)}`);
      steps.push({ file, text: body! });
    } else if (lang === "sh") {
      steps.push({ commands: shellCommands(body!) });
    }
  }
  return steps;
}

/** The commands of a shell block: one a line, a heredoc with its lines, comments left out. */
function shellCommands(block: string): string[] {
  const commands: string[] = [];
  const lines = block.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) continue;
    const heredoc = /<<'(\w+)'$/.exec(line);
    if (heredoc === null) {
      commands.push(line);
      continue;
    }
    const lastLine = lines.indexOf(heredoc[1]!, i + 1);
    commands.push(lines.slice(i, lastLine + 1).join("\n"));
    i = lastLine;
  }
  return commands;
}

/** The repository's files (tracked, and new ones not ignored) copied into `dir`. */
async function copyRepository(dir: string): Promise<void> {
  const listed = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
    cwd: ROOT,
  }).output();
  assert.equal(listed.code, 0, "git ls-files");
  for (const path of new TextDecoder().decode(listed.stdout).split("\0")) {
    if (path === "" || path.startsWith("my/")) continue;
    try {
      await Deno.mkdir(`${dir}/${path.slice(0, path.lastIndexOf("/") + 1)}`, { recursive: true });
      await Deno.copyFile(`${ROOT}${path}`, `${dir}/${path}`);
    } catch (error) {
      // A file deleted in the work tree but not yet in git.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

Deno.test("README: the first-plugin walkthrough runs as written", async () => {
  const steps = walkthrough(await Deno.readTextFile(`${ROOT}README.md`));
  const dir = await Deno.makeTempDir({ prefix: "imhookd-readme-" });
  const env = {
    IMHOOKD_LISTEN: `127.0.0.1:${await vacantPort()}`,
    IMHOOKD_ADMIN_LISTEN: "127.0.0.1:0",
    NO_COLOR: "1",
  };
  const ran: { command: string; code: number; stdout: string; stderr: string }[] = [];
  let served: Awaited<ReturnType<typeof serveCommand>> | undefined;
  try {
    await copyRepository(dir);
    await Deno.mkdir(`${dir}/my`);
    for (const step of steps) {
      if ("file" in step) {
        await Deno.writeTextFile(`${dir}/${step.file}`, step.text);
        continue;
      }
      for (const command of step.commands) {
        if (/ serve /.test(command)) {
          // `deno task` does not pass SIGTERM on to the deno it starts: run the task's own
          // command line, so stopping serve stops it rather than leaving it behind.
          const direct = command.replace(/^deno task cli /, `${cliTask} `);
          served = await serveCommand("bash", ["-c", `cd '${dir}' && exec env ${direct}`], env);
          continue;
        }
        const output = await new Deno.Command("bash", {
          args: ["-c", command],
          cwd: dir,
          env,
          stdin: "null",
        }).output();
        const decoder = new TextDecoder();
        ran.push({
          command,
          code: output.code,
          stdout: decoder.decode(output.stdout),
          stderr: decoder.decode(output.stderr),
        });
      }
    }
    const result = (pattern: RegExp): (typeof ran)[number] => {
      const found = ran.filter((r) => pattern.test(r.command));
      assert.equal(found.length, 1, `one command matches ${pattern}`);
      return found[0]!;
    };
    const succeeded = (pattern: RegExp): string => {
      const { command, code, stdout, stderr } = result(pattern);
      assert.equal(code, 0, `${command}\n${stdout}\n${stderr}`);
      return stdout;
    };
    succeeded(/^deno check my\/hello\.ts my\/hello_test\.ts$/);
    assert.match(succeeded(/^deno test my\/hello_test\.ts$/), /ok \| 2 passed \| 0 failed/);
    assert.match(
      succeeded(/^deno task cli check /),
      /Group\.CallbackAfterSendMsg +-> hello/,
    );
    assert.match(succeeded(/plugin test .* --plugin hello$/), /\n {2}handle: ok \(\d+ ms\)\n/);
    const spam = result(/plugin test .*=spam$/);
    assert.equal(spam.code, 1, "the spam run fails, as the README says");
    assert.match(spam.stdout, /\n {2}handle: failed after \d+ ms: refusing "spam"\n/);
    assert.ok(served, "the walkthrough starts serve");
    assert.match(
      succeeded(/send .*--command Group\.CallbackAfterSendMsg$/),
      /^200 \{"ActionStatus":"OK"/,
    );
    assert.match(succeeded(/send .*=spam$/), /^200 \{"ActionStatus":"OK"/);
    await eventually(
      () =>
        served!.logs.some((line) => line.includes("callback 1: @TGS#2J4SZEAEL says red packet")),
      "serve logs the hello line",
    );
    // dead and show ran right after the sends: they printed what they found then. Both
    // callbacks are journaled before send returns; hello's dead letter comes a moment later,
    // so run them again until it is there, as a reader would.
    const dead = ran.find((r) => / dead /.test(r.command))!;
    const show = ran.find((r) => / show /.test(r.command))!;
    await eventually(async () => {
      for (const entry of [dead, show]) {
        const output = await new Deno.Command("bash", {
          args: ["-c", entry.command],
          cwd: dir,
          env,
        }).output();
        entry.code = output.code;
        entry.stdout = new TextDecoder().decode(output.stdout);
      }
      return dead.stdout.includes("refusing");
    }, "the dead letter is listed");
    assert.equal(dead.code, 0);
    const [letter] = JSON.parse(dead.stdout); // not a terminal: JSON
    assert.deepEqual(
      [letter.id, letter.plugin, letter.attempts, letter.error],
      [2, "hello", 1, 'refusing "spam"'],
    );
    assert.equal(show.code, 0);
    const shown = JSON.parse(show.stdout);
    assert.deepEqual(
      shown.deliveries.map((d: { plugin: string; state: string }) => [d.plugin, d.state]),
      [["audit", "delivered"], ["group_state", "delivered"], ["hello", "dead"]],
    );
    assert.equal(await served!.stop(), 0);
  } finally {
    await served?.[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});
