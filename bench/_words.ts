/**
 * The banned-word list the moderation benchmarks use: `count` made-up words of 4 to 10
 * letters, one in 20 with a `*` (`word*`, `*word` or `*word*`), the same every run.
 *
 * @module
 */

/** `count` words, deterministic. */
export function bannedWords(count: number): string[] {
  let state = 0x2545f491;
  const next = (): number => {
    // xorshift32: the same list every run, no dependency.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const words = new Set<string>();
  while (words.size < count) {
    const length = 4 + Math.floor(next() * 7);
    let word = "";
    for (let i = 0; i < length; i++) word += String.fromCharCode(97 + Math.floor(next() * 26));
    if (words.size % 20 === 19) {
      const shape = Math.floor(next() * 3);
      word = shape === 0 ? `${word}*` : shape === 1 ? `*${word}` : `*${word}*`;
    }
    words.add(word);
  }
  return [...words];
}
