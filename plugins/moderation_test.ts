import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import type { CallbackEvent, PluginInstance } from "../plugin.ts";
import { tempDir } from "../core/_testing.ts";
import { lowerSameLength, mask, WordMatcher } from "./_moderation_matcher.ts";
import moderation, { type ModerationOptions } from "./moderation.ts";

function found(matcher: WordMatcher, text: string): string[] {
  return matcher.find(text).map(({ start, end }) => text.slice(start, end)).sort();
}

Deno.test("moderation matcher: whole words, any case, not inside other words", () => {
  const matcher = new WordMatcher(["spam", "Free Money", "c++"]);
  assert.deepEqual(found(matcher, "SPAM! and spam, but not spammer or antispam"), ["SPAM", "spam"]);
  assert.deepEqual(found(matcher, "get free money now"), ["free money"]);
  assert.deepEqual(found(matcher, "I like C++ and abc++"), ["C++"]);
  assert.deepEqual(found(matcher, "nothing here"), []);
  assert.equal(matcher.test("Spam"), true);
  assert.equal(matcher.test("spams"), false);
  // Accented letters are letters: "spamé" is another word.
  assert.equal(matcher.test("spamé"), false);
  assert.equal(matcher.test("éspam"), false);
  assert.equal(matcher.test("[spam]"), true);
});

Deno.test("moderation matcher: * stands for any characters inside a word", () => {
  const matcher = new WordMatcher(["*casino*", "spam*", "*coin", "b*t"]);
  assert.deepEqual(found(matcher, "Visit OnlineCasino123 today"), ["OnlineCasino123"]);
  assert.deepEqual(found(matcher, "casino"), ["casino"]);
  assert.deepEqual(found(matcher, "spammer spam aspam"), ["spam", "spammer"]);
  assert.deepEqual(found(matcher, "bitcoin coins coin"), ["bitcoin", "coin"]);
  assert.deepEqual(found(matcher, "bat bot but bt bart bass"), ["bart", "bat", "bot", "bt", "but"]);
});

Deno.test("moderation matcher: words of scripts without spaces match inside runs", () => {
  const matcher = new WordMatcher(["赌博", "ギャンブル"]);
  assert.deepEqual(found(matcher, "我们去赌博吧"), ["赌博"]);
  assert.deepEqual(found(matcher, "今日はギャンブルする"), ["ギャンブル"]);
});

Deno.test("moderation matcher: regular expressions, with flag i, on the text as sent", () => {
  const matcher = new WordMatcher([], ["buy\\s+now", "\\d{4}-\\d{4}"]);
  assert.deepEqual(found(matcher, "BUY   NOW at 1234-5678"), ["1234-5678", "BUY   NOW"]);
  assert.equal(new WordMatcher([], ["x*"]).test("abc"), false, "empty matches are no matches");
});

Deno.test("moderation matcher: mask hides each matched character, one * per code point", () => {
  const text = "spam 😀spam😀 ok";
  const matcher = new WordMatcher(["spam", "😀spam😀"]);
  assert.equal(mask(text, matcher.find(text)), "**** ****** ok");
  assert.equal(mask("abc", []), "abc");
  assert.equal(lowerSameLength("İSTANBUL"), "İstanbul");
});

Deno.test("moderation matcher: finds exactly what a naive search finds (property)", () => {
  const alphabet = fc.constantFrom(..."abc ".split(""));
  const word = fc.string({ unit: fc.constantFrom("a", "b", "c"), minLength: 1, maxLength: 3 });
  fc.assert(
    fc.property(
      fc.array(word, { maxLength: 6 }),
      fc.string({ unit: alphabet, maxLength: 30 }),
      (words, text) => {
        const matcher = new WordMatcher(words);
        const tokens = text.split(" ").filter((t) => t !== "");
        const expected = tokens.filter((t) => words.includes(t)).sort();
        assert.deepEqual(found(matcher, text), expected);
      },
    ),
  );
});

function event(command: string, payload: Record<string, unknown>): CallbackEvent {
  return {
    id: "",
    command,
    sdkAppId: "1400000000",
    receivedAt: 0,
    attempt: 1,
    payload: { CallbackCommand: command, ...payload },
    rawBody: "",
  };
}

function message(...texts: string[]): Record<string, unknown> {
  return {
    GroupId: "g",
    From_Account: "a",
    MsgBody: [
      ...texts.map((Text) => ({ MsgType: "TIMTextElem", MsgContent: { Text } })),
      { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "spam" } },
    ],
  };
}

async function start(options: unknown, dir = "/"): Promise<PluginInstance> {
  const parsed = moderation.parseOptions(options, { name: "moderation", configDir: dir });
  return await moderation.create(parsed);
}

Deno.test("moderation: rejects with its code where the command's range holds it, drops, or has no opinion", async () => {
  const plugin = await start({
    rules: [
      { words: ["spam"], action: "reject", code: 10101, info: "blocked" },
      { patterns: ["free\\s+money"], action: "drop" },
    ],
  });
  const group = "Group.CallbackBeforeSendMsg";
  assert.deepEqual(
    plugin.decide!(event(group, message("hello", "SPAM")), new AbortController().signal),
    {
      verdict: "reject",
      code: 10101,
      info: "blocked",
    },
  );
  // 10101 is outside C2C's range: a generic reject there.
  assert.deepEqual(
    plugin.decide!(
      event("C2C.CallbackBeforeSendMsg", message("spam")),
      new AbortController().signal,
    ),
    { verdict: "reject", info: "blocked" },
  );
  assert.deepEqual(
    plugin.decide!(event(group, message("Free  money")), new AbortController().signal),
    { verdict: "drop" },
  );
  assert.equal(
    plugin.decide!(event(group, message("hello")), new AbortController().signal),
    undefined,
  );
  // Other element types pass untouched: the face's "spam" does not count.
  assert.equal(plugin.decide!(event(group, message()), new AbortController().signal), undefined);
  assert.equal(
    plugin.decide!(
      event("Group.CallbackBeforeCreateGroup", { Name: "spam" }),
      new AbortController().signal,
    ),
    undefined,
  );
});

Deno.test("moderation: mask replaces the text elements only, later rules see the masked text", async () => {
  const plugin = await start({
    rules: [
      { words: ["darn", "heck*"], action: "mask" },
      { words: ["darn"], action: "reject" },
    ],
  });
  const payload = message("Darn it, heckin' cold", "fine");
  const decision = plugin.decide!(
    event("Group.CallbackBeforeSendMsg", payload),
    new AbortController().signal,
  );
  assert.deepEqual(decision, {
    verdict: "allow",
    replace: {
      MsgBody: [
        { MsgType: "TIMTextElem", MsgContent: { Text: "**** it, ******' cold" } },
        { MsgType: "TIMTextElem", MsgContent: { Text: "fine" } },
        { MsgType: "TIMFaceElem", MsgContent: { Index: 1, Data: "spam" } },
      ],
    },
  });
  assert.equal(
    ((payload.MsgBody as { MsgContent: { Text?: string } }[])[0]!).MsgContent.Text,
    "Darn it, heckin' cold",
    "the payload is not mutated",
  );
});

Deno.test("moderation: a words file joins the words; blank and # lines are skipped", async () => {
  await using dir = await tempDir("moderation_test_");
  await Deno.writeTextFile(join(dir.path, "banned.txt"), "# banned\n\nCasino\r\n  lottery  \n");
  const options = moderation.parseOptions(
    { rules: [{ words: ["spam"], words_file: "./banned.txt", action: "reject" }] },
    { name: "m", configDir: dir.path },
  ) as ModerationOptions;
  assert.deepEqual(options.rules[0]!.words, ["spam", "Casino", "lottery"]);
  assert.equal(options.rules[0]!.wordsFile, join(dir.path, "banned.txt"));
  const plugin = await moderation.create(options);
  const decision = await plugin.decide!(
    event("C2C.CallbackBeforeSendMsg", message("play LOTTERY")),
    new AbortController().signal,
  );
  assert.deepEqual(decision, { verdict: "reject" });
});

Deno.test("moderation: options errors name the key path", () => {
  const cases: [unknown, ErrorConstructor, string][] = [
    [undefined, TypeError, "options: expected a mapping with rules, got undefined"],
    [{ rules: [] }, TypeError, "options.rules: expected a list of at least one rule, got []"],
    [
      { rules: [{ action: "reject" }] },
      TypeError,
      "options.rules[0]: expected words, a words_file or patterns",
    ],
    [
      { rules: [{ words: ["x"], action: "ban" }] },
      TypeError,
      'options.rules[0].action: expected reject, drop or mask, got "ban"',
    ],
    [
      { rules: [{ words: ["x", "**"], action: "mask" }] },
      RangeError,
      'options.rules[0].words[1]: a word needs a character other than "*", got "**"',
    ],
    [
      { rules: [{ words: ["x"], action: "reject", code: 20000 }] },
      RangeError,
      "options.rules[0].code: expected 1, 10100-10200 (group messages) or 120001-130000 (one-to-one), got 20000",
    ],
    [
      { rules: [{ words: ["x"], action: "mask", code: 1 }] },
      TypeError,
      "options.rules[0].code: only a reject rule takes a code",
    ],
    [
      { rules: [{ patterns: ["("], action: "drop" }] },
      RangeError,
      "options.rules[0].patterns[0]: Invalid regular expression: /(/gi: Unterminated group",
    ],
    [
      { rules: [{ words: ["x"], action: "drop", extra: 1 }] },
      TypeError,
      "options.rules[0].extra: unknown option; expected one of words, words_file, patterns, action, code, info",
    ],
  ];
  for (const [raw, type, message] of cases) {
    assert.throws(
      () => moderation.parseOptions(raw, { name: "m", configDir: "/" }),
      (error: unknown) => {
        assert.equal((error as Error).constructor, type);
        assert.equal((error as Error).message, message);
        return true;
      },
    );
  }
  assert.throws(
    () =>
      moderation.parseOptions(
        { rules: [{ words_file: "/nonexistent/words.txt", action: "reject" }] },
        { name: "m", configDir: "/" },
      ),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(
        error.message,
        /^options\.rules\[0\]\.words_file: cannot read "\/nonexistent\/words\.txt": /,
      );
      return true;
    },
  );
});

Deno.test("moderation: every bad option is reported at once", () => {
  assert.throws(
    () =>
      moderation.parseOptions(
        {
          rules: [{ words: ["*"], action: "ban" }, { patterns: ["("], action: "mask", info: "x" }],
        },
        { name: "m", configDir: "/" },
      ),
    (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual((error.errors as Error[]).map((e) => e.message), [
        'options.rules[0].words[0]: a word needs a character other than "*", got "*"',
        'options.rules[0].action: expected reject, drop or mask, got "ban"',
        "options.rules[1].patterns[0]: Invalid regular expression: /(/gi: Unterminated group",
        "options.rules[1].info: only a reject rule takes an info",
      ]);
      return true;
    },
  );
});

Deno.test("moderation: its thread may read its words files, and nothing else", () => {
  const options = {
    rules: [
      { words: ["x"], action: "mask" as const, patterns: [] },
      { words: ["y"], wordsFile: "/srv/banned.txt", action: "reject" as const, patterns: [] },
    ],
  };
  assert.deepEqual(moderation.permissions(options), { read: ["/srv/banned.txt"] });
});
