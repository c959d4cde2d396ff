/**
 * `builtin:moderation`: decides `*.CallbackBeforeSendMsg` callbacks from the text of their
 * `TIMTextElem` elements, by rules of words (case-insensitive whole words, `*` for any
 * characters inside a word), a words file and regular expressions: reject, drop, or mask what
 * matched. Other element types pass untouched; other commands get no opinion.
 *
 * The words file is read by `parseOptions`, so its words are part of the options: a reload
 * after the file changed restarts the plugin with the new list.
 *
 * @module
 */
import { resolve } from "node:path";
import type {
  CallbackEvent,
  Decision,
  MsgBodyElement,
  Plugin,
  PluginInstance,
  PluginOptionsContext,
} from "../plugin.ts";
import { decisionRules } from "../core/decisions/rules.ts";
import { isRejectCode } from "../core/decisions/validate.ts";
import { isRecord, OptionErrors, show } from "./_options.ts";
import { mask, WordMatcher } from "./_moderation_matcher.ts";

/** One rule of `builtin:moderation`. */
export interface ModerationRule {
  /** The words of `words` and of `words_file`. */
  words: string[];
  /** Absolute path of the words file, if any. */
  wordsFile?: string;
  patterns: string[];
  action: "reject" | "drop" | "mask";
  /** A reject's code, used on the commands whose range holds it (the others get 1). */
  code?: number;
  info?: string;
}

/** The parsed options of `builtin:moderation`. */
export interface ModerationOptions {
  rules: ModerationRule[];
}

const OPTION_KEYS = ["rules"];
const RULE_KEYS = ["words", "words_file", "patterns", "action", "code", "info"];
const ACTIONS = ["reject", "drop", "mask"];
/** The commands whose ranges a rule's code may come from. */
const RANGES = ["Group.CallbackBeforeSendMsg", "C2C.CallbackBeforeSendMsg"].map((command) =>
  decisionRules(command)!
);

/** `builtin:moderation`: decides messages from their text. */
const moderation = {
  name: "moderation",
  parseOptions(raw: unknown, ctx: PluginOptionsContext): ModerationOptions {
    return parseModerationOptions(raw, ctx.configDir);
  },
  create(options: ModerationOptions): PluginInstance {
    return new Moderator(options);
  },
  /** Its words files, which `parseOptions` reads (in its thread too). */
  permissions(options: ModerationOptions): Deno.PermissionOptionsObject {
    return { read: options.rules.flatMap((rule) => rule.wordsFile ?? []) };
  },
} satisfies Plugin<ModerationOptions>;

export default moderation;

interface CompiledRule {
  matcher: WordMatcher;
  rule: ModerationRule;
}

/** Applies the rules, in order, to the text elements of a message. */
class Moderator implements PluginInstance {
  #rules: CompiledRule[];

  constructor(options: ModerationOptions) {
    this.#rules = options.rules.map((rule) => ({
      matcher: new WordMatcher(rule.words, rule.patterns),
      rule,
    }));
  }

  /**
   * Each rule sees the texts as masked by the rules before it; the first `reject` or `drop`
   * rule that matches decides. Masks alone answer an allow with the masked `MsgBody`.
   */
  decide(event: CallbackEvent): Decision | undefined {
    const rules = decisionRules(event.command);
    if (rules === undefined || !rules.replace.includes("MsgBody")) return undefined;
    const body = event.payload.MsgBody;
    if (!Array.isArray(body)) return undefined;
    const texts = (body as unknown[]).map(textOf);
    let masked = false;
    for (const { matcher, rule } of this.#rules) {
      if (rule.action === "mask") {
        texts.forEach((text, i) => {
          if (text === undefined) return;
          const spans = matcher.find(text);
          if (spans.length === 0) return;
          texts[i] = mask(text, spans);
          masked = true;
        });
        continue;
      }
      if (!texts.some((text) => text !== undefined && matcher.test(text))) continue;
      if (rule.action === "drop" && rules.drop) return { verdict: "drop" };
      return {
        verdict: "reject",
        ...(rule.code !== undefined && isRejectCode(rules, rule.code) ? { code: rule.code } : {}),
        ...(rule.info !== undefined ? { info: rule.info } : {}),
      };
    }
    if (!masked) return undefined;
    const replaced = (body as MsgBodyElement[]).map((element, i) =>
      texts[i] === textOf(element)
        ? element
        : { ...element, MsgContent: { ...element.MsgContent, Text: texts[i] } }
    );
    return { verdict: "allow", replace: { MsgBody: replaced } };
  }
}

/** The text of a `TIMTextElem`; undefined for other elements. */
function textOf(element: unknown): string | undefined {
  if (!isRecord(element) || element.MsgType !== "TIMTextElem") return undefined;
  const content = element.MsgContent;
  return isRecord(content) && typeof content.Text === "string" ? content.Text : undefined;
}

function parseModerationOptions(raw: unknown, configDir: string): ModerationOptions {
  if (!isRecord(raw)) {
    throw new TypeError(`options: expected a mapping with rules, got ${show(raw)}`);
  }
  const errors = new OptionErrors();
  errors.unknownKeys(raw, OPTION_KEYS, "options");
  const rules = errors.check(() => {
    if (!Array.isArray(raw.rules) || raw.rules.length === 0) {
      throw new TypeError(
        `options.rules: expected a list of at least one rule, got ${show(raw.rules)}`,
      );
    }
    return raw.rules as unknown[];
  });
  const parsed = rules?.map((rule, i) => parseRule(rule, `options.rules[${i}]`, configDir, errors));
  errors.throwIfAny();
  return { rules: parsed as ModerationRule[] };
}

function stringList(value: unknown, at: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(`${at}: expected a list of strings, got ${show(value)}`);
  }
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      throw new TypeError(`${at}[${i}]: expected a string, got ${show(item)}`);
    }
  });
  return value as string[];
}

function checkWord(word: string, at: string): void {
  if (word.replaceAll("*", "").trim() === "") {
    throw new RangeError(`${at}: a word needs a character other than "*", got ${show(word)}`);
  }
}

/** One rule, its problems kept in `errors`; undefined when it has some. */
function parseRule(
  raw: unknown,
  at: string,
  configDir: string,
  errors: OptionErrors,
): ModerationRule | undefined {
  if (!isRecord(raw)) {
    errors.check(() => {
      throw new TypeError(`${at}: expected a mapping, got ${show(raw)}`);
    });
    return undefined;
  }
  errors.unknownKeys(raw, RULE_KEYS, at);
  const words = errors.check(() => {
    const words = stringList(raw.words, `${at}.words`);
    words.forEach((word, i) => checkWord(word, `${at}.words[${i}]`));
    return words;
  }) ?? [];
  const patterns = errors.check(() => {
    const patterns = stringList(raw.patterns, `${at}.patterns`);
    patterns.forEach((pattern, i) => {
      try {
        new RegExp(pattern, "gi");
      } catch (error) {
        throw new RangeError(`${at}.patterns[${i}]: ${(error as Error).message}`);
      }
    });
    return patterns;
  }) ?? [];
  const rule: ModerationRule = { words, patterns, action: "reject" };
  if (raw.words_file !== undefined) {
    errors.check(() => {
      if (typeof raw.words_file !== "string" || raw.words_file.trim() === "") {
        throw new TypeError(`${at}.words_file: expected a path, got ${show(raw.words_file)}`);
      }
      rule.wordsFile = resolve(configDir, raw.words_file);
      rule.words = [...words, ...readWords(rule.wordsFile, `${at}.words_file`)];
    });
  }
  if (raw.words === undefined && raw.words_file === undefined && raw.patterns === undefined) {
    errors.check(() => {
      throw new TypeError(`${at}: expected words, a words_file or patterns`);
    });
  }
  const action = errors.check(() => {
    if (typeof raw.action !== "string" || !ACTIONS.includes(raw.action)) {
      throw new TypeError(`${at}.action: expected reject, drop or mask, got ${show(raw.action)}`);
    }
    return raw.action as ModerationRule["action"];
  });
  if (action !== undefined) rule.action = action;
  if (raw.code !== undefined) {
    errors.check(() => {
      if (action !== "reject") throw new TypeError(`${at}.code: only a reject rule takes a code`);
      const code = raw.code;
      if (typeof code !== "number" || !Number.isInteger(code)) {
        throw new TypeError(`${at}.code: expected an integer, got ${show(code)}`);
      }
      if (!RANGES.some((rules) => isRejectCode(rules, code))) {
        throw new RangeError(
          `${at}.code: expected 1, 10100-10200 (group messages) or 120001-130000 (one-to-one), got ${code}`,
        );
      }
      rule.code = code;
    });
  }
  if (raw.info !== undefined) {
    errors.check(() => {
      if (action !== "reject") throw new TypeError(`${at}.info: only a reject rule takes an info`);
      if (typeof raw.info !== "string") {
        throw new TypeError(`${at}.info: expected a string, got ${show(raw.info)}`);
      }
      rule.info = raw.info;
    });
  }
  return rule;
}

/** The words of a words file: one a line; blank lines and lines starting with `#` skipped. */
function readWords(path: string, at: string): string[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new TypeError(`${at}: cannot read "${path}": ${(error as Error).message}`);
  }
  const words: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const word = line.trim();
    if (word === "" || word.startsWith("#")) return;
    checkWord(word, `${at} line ${i + 1}`);
    words.push(word);
  });
  return words;
}
