/**
 * The text matcher of `builtin:moderation`: finds words (case-insensitive, whole words, `*`
 * standing for any characters inside a word) and regular expressions in a text, and masks
 * what it found. Private to `plugins/`.
 *
 * Every word, or for a word with `*` its longest part without one (its *anchor*), goes into
 * one Aho-Corasick automaton, so a text is read once whatever the size of the list; a hit is
 * then checked where it landed (word boundaries; the whole word against the wildcard).
 *
 * @module
 */

/** A match: `text.slice(start, end)`. */
export interface Span {
  start: number;
  end: number;
}

const LETTER = /[\p{L}\p{N}\p{M}_]/u;
/** Scripts written without spaces between words: their words match inside longer runs. */
const UNSPACED =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

/** Word characters among the first 128 code points. */
const ASCII_WORD = new Uint8Array(128).map((_, c) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f
    ? 1
    : 0
);

function isWordCodePoint(cp: number): boolean {
  return cp < 128 ? ASCII_WORD[cp] === 1 : LETTER.test(String.fromCodePoint(cp));
}

/** Whether the code point starting at `i` is a word character (false past the end). */
function wordAt(text: string, i: number): boolean {
  return i < text.length && isWordCodePoint(text.codePointAt(i)!);
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Whether the code point ending just before `i` is a word character. */
function wordBefore(text: string, i: number): boolean {
  if (i <= 0) return false;
  const start = isLowSurrogate(text.charCodeAt(i - 1)) && i >= 2 ? i - 2 : i - 1;
  return isWordCodePoint(text.codePointAt(start)!);
}

/**
 * `text` in lower case with every character at the same index, so spans found in it are
 * spans of `text`. (A character whose lower case is longer, such as "İ", stays as it is.)
 */
export function lowerSameLength(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  let out = "";
  for (const ch of text) {
    const l = ch.toLowerCase();
    out += l.length === ch.length ? l : ch;
  }
  return out;
}

/**
 * An Aho-Corasick automaton over UTF-16 code units; keys are numbered in insertion order.
 * The root's children are a table by code unit; every other node's are a list (first child,
 * next sibling), short past the first letters.
 */
class Automaton {
  #root = new Int32Array(0x10000);
  #code: number[] = [0];
  #firstChild: number[] = [0];
  #nextSibling: number[] = [0];
  #fail: number[] = [0];
  /** The key ending at each node, or -1. */
  #key: number[] = [-1];
  /** The nearest node on the fail chain with a key (0: none). */
  #dict: number[] = [0];
  #ids = new Map<string, number>();

  /** The child of `node` for `code`, or 0. */
  #child(node: number, code: number): number {
    if (node === 0) return this.#root[code]!;
    for (let child = this.#firstChild[node]!; child !== 0; child = this.#nextSibling[child]!) {
      if (this.#code[child] === code) return child;
    }
    return 0;
  }

  /** Adds `key` (once); returns its number. */
  add(key: string): number {
    const known = this.#ids.get(key);
    if (known !== undefined) return known;
    let node = 0;
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      let next = this.#child(node, code);
      if (next === 0) {
        next = this.#key.length;
        this.#code.push(code);
        this.#firstChild.push(0);
        this.#fail.push(0);
        this.#key.push(-1);
        this.#dict.push(0);
        if (node === 0) {
          this.#root[code] = next;
          this.#nextSibling.push(0);
        } else {
          this.#nextSibling.push(this.#firstChild[node]!);
          this.#firstChild[node] = next;
        }
      }
      node = next;
    }
    const id = this.#ids.size;
    this.#ids.set(key, id);
    this.#key[node] = id;
    return id;
  }

  /** Computes the fail links, breadth first; call once every key is added. */
  build(): void {
    const queue: number[] = [];
    for (const child of this.#root) if (child !== 0) queue.push(child);
    for (let at = 0; at < queue.length; at++) {
      const node = queue[at]!;
      for (let child = this.#firstChild[node]!; child !== 0; child = this.#nextSibling[child]!) {
        const code = this.#code[child]!;
        let fallback = this.#fail[node]!;
        let target = this.#child(fallback, code);
        while (target === 0 && fallback !== 0) {
          fallback = this.#fail[fallback]!;
          target = this.#child(fallback, code);
        }
        this.#fail[child] = target;
        this.#dict[child] = this.#key[target]! >= 0 ? target : this.#dict[target]!;
        queue.push(child);
      }
    }
  }

  /** Calls `hit(end, key)` for every key found in `text`; stops when `hit` returns true. */
  scan(text: string, hit: (end: number, key: number) => boolean): boolean {
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      let next = this.#child(node, code);
      while (next === 0 && node !== 0) {
        node = this.#fail[node]!;
        next = this.#child(node, code);
      }
      node = next;
      const key = this.#key;
      for (
        let out = key[node]! >= 0 ? node : this.#dict[node]!;
        out !== 0;
        out = this.#dict[out]!
      ) {
        if (hit(i + 1, key[out]!)) return true;
      }
    }
    return false;
  }
}

/** What a key of the automaton stands for. */
interface Entry {
  /** The key's length. */
  length: number;
  /** Checked for word boundaries (a word of a script written with spaces). */
  whole: boolean;
  /** A word with `*`: the whole word it must be. */
  wildcard?: RegExp;
}

/** Escapes `text` for use inside a regular expression. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Finds one rule's words and patterns in texts. */
export class WordMatcher {
  #automaton = new Automaton();
  #entries: Entry[][] = [];
  #patterns: RegExp[];

  /**
   * `words` as the options give them (any case, `*` for any characters inside a word; no word
   * may be empty or only `*`), `patterns` as JavaScript regular expressions (flag i).
   * Throws `SyntaxError` for a pattern that does not compile.
   */
  constructor(words: Iterable<string>, patterns: readonly string[] = []) {
    const seen = new Set<string>();
    for (const raw of words) {
      const word = lowerSameLength(raw.trim());
      if (seen.has(word)) continue;
      seen.add(word);
      const parts = word.split("*");
      const anchor = parts.reduce((a, b) => (b.length > a.length ? b : a));
      if (anchor === "") continue;
      const entry: Entry = { length: anchor.length, whole: !UNSPACED.test(word) };
      if (parts.length > 1) entry.wildcard = new RegExp(`^${parts.map(escape).join("[^]*")}$`);
      const id = this.#automaton.add(anchor);
      (this.#entries[id] ??= []).push(entry);
    }
    this.#automaton.build();
    this.#patterns = patterns.map((pattern) => new RegExp(pattern, "gi"));
  }

  /** Whether `text` holds a word or pattern. */
  test(text: string): boolean {
    return this.#find(text, true).length > 0;
  }

  /** Every match in `text`, in no particular order (they may overlap). */
  find(text: string): Span[] {
    return this.#find(text, false);
  }

  #find(text: string, first: boolean): Span[] {
    const spans: Span[] = [];
    const lower = lowerSameLength(text);
    this.#automaton.scan(lower, (end, key) => {
      for (const entry of this.#entries[key]!) {
        const span = this.#check(lower, end - entry.length, end, entry);
        if (span === undefined) continue;
        spans.push(span);
        if (first) return true;
      }
      return false;
    });
    if (first && spans.length > 0) return spans;
    for (const pattern of this.#patterns) {
      pattern.lastIndex = 0;
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        if (match[0] === "") {
          pattern.lastIndex++;
          continue;
        }
        spans.push({ start: match.index, end: match.index + match[0].length });
        if (first) return spans;
      }
    }
    return spans;
  }

  /** The match of `entry` whose key was found at `start..end` of `lower`, if it is one. */
  #check(lower: string, start: number, end: number, entry: Entry): Span | undefined {
    if (entry.wildcard === undefined) {
      if (entry.whole && (wordBefore(lower, start) || wordAt(lower, end))) return undefined;
      return { start, end };
    }
    // The word the key landed in, checked whole against the wildcard.
    let from = start;
    while (wordBefore(lower, from)) from -= isLowSurrogate(lower.charCodeAt(from - 1)) ? 2 : 1;
    let to = end;
    while (wordAt(lower, to)) to += lower.codePointAt(to)! > 0xffff ? 2 : 1;
    return entry.wildcard.test(lower.slice(from, to)) ? { start: from, end: to } : undefined;
  }
}

/** `text` with each character of `spans` replaced by `*` (one per code point). */
export function mask(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text;
  const hidden = new Uint8Array(text.length);
  for (const { start, end } of spans) hidden.fill(1, start, end);
  let out = "";
  for (let i = 0; i < text.length;) {
    const wide = text.codePointAt(i)! > 0xffff ? 2 : 1;
    out += hidden[i] === 1 ? "*" : text.slice(i, i + wide);
    i += wide;
  }
  return out;
}
