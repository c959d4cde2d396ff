/**
 * Reading a callback's body: never more than `max_body_bytes` whatever `Content-Length` says,
 * and within the body timeout; each failure is the {@linkcode Rejection} it is answered with.
 *
 * @module
 */
import type { Deadlines } from "./_deadlines.ts";
import { cannotRead, Rejection, tooLarge } from "./_rejection.ts";

const DIGITS = /^\d+$/;

/** What {@linkcode BodyReader} reads by: the handler's settings, read at each request. */
export interface BodyLimits {
  maxBodyBytes: number;
  bodyTimeoutMs: number;
}

/** Reads request bodies within the listener's limits. */
export class BodyReader {
  #options: BodyLimits;
  #deadlines: Deadlines;

  constructor(options: BodyLimits, deadlines: Deadlines) {
    this.#options = options;
    this.#deadlines = deadlines;
  }

  /** Reads the body, refusing more than max_body_bytes whatever Content-Length says. */
  async read(request: Request, fromServer: boolean): Promise<Uint8Array> {
    const limit = this.#options.maxBodyBytes;
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      await request.body?.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    // Deno.serve's HTTP layer never hands over more body than a Content-Length it accepted,
    // so such a body can be taken whole, which costs much less than reading it chunk by chunk.
    if (fromServer && declared !== null && DIGITS.test(declared)) {
      return await this.#readWhole(request);
    }
    return await this.#readChunks(request);
  }

  async #readWhole(request: Request): Promise<Uint8Array> {
    const timeout = Promise.withResolvers<undefined>();
    const deadline = this.#deadlines.add(() => timeout.resolve(undefined));
    const reading = request.bytes();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await Promise.race([reading, timeout.promise]);
    } catch (error) {
      throw cannotRead(error);
    } finally {
      this.#deadlines.remove(deadline);
    }
    if (bytes === undefined) {
      // The read cannot be cancelled: it ends, and is ignored, when the client goes away.
      reading.catch(() => {});
      throw this.#timedOut();
    }
    if (bytes.length > this.#options.maxBodyBytes) throw tooLarge(this.#options.maxBodyBytes);
    return bytes;
  }

  /** Reads the body as it comes, stopping as soon as it is over the limit. */
  async #readChunks(request: Request): Promise<Uint8Array> {
    if (request.body === null) return new Uint8Array();
    const limit = this.#options.maxBodyBytes;
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let timedOut = false;
    const deadline = this.#deadlines.add(() => {
      timedOut = true;
      reader.cancel().catch(() => {});
    });
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw cannotRead(error);
        }
        if (chunk.done) break;
        size += chunk.value.length;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw tooLarge(limit);
        }
        chunks.push(chunk.value);
      }
    } finally {
      this.#deadlines.remove(deadline);
    }
    if (timedOut) throw this.#timedOut();
    if (chunks.length === 1) return chunks[0]!;
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
  }

  #timedOut(): Rejection {
    return new Rejection(
      408,
      "bad_request",
      `Body not received within ${this.#options.bodyTimeoutMs}ms`,
    );
  }
}
