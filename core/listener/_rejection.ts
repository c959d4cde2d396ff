/**
 * The listener's refusals: a {@linkcode Rejection} is thrown where a request fails a check and
 * becomes its answer (`answer`), with the `result` counted in `imhookd_callbacks_total`.
 *
 * @module
 */

/** The `result` label of `imhookd_callbacks_total`. */
export type CallbackResult =
  | "ok"
  | "duplicate"
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "too_large"
  | "overloaded"
  | "unavailable";

/** The headers of every answer: Tencent reads JSON. */
export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/** Why a request is refused: its status, counted result, message and extra headers. */
export class Rejection {
  constructor(
    readonly status: number,
    readonly result: CallbackResult | undefined,
    readonly message: string,
    readonly headers: Record<string, string> = {},
    /** A decision callback that could not be accepted gets its fallback: a 200 with this. */
    readonly answer?: string,
  ) {}
}

/** The answer to a refused request: its fallback decision when it has one, else the error. */
export function answer(rejection: Rejection): Response {
  if (rejection.answer !== undefined) {
    return new Response(rejection.answer, { headers: JSON_HEADERS });
  }
  return new Response(
    JSON.stringify({
      ActionStatus: "FAIL",
      ErrorCode: rejection.status,
      ErrorInfo: rejection.message,
    }),
    { status: rejection.status, headers: { ...JSON_HEADERS, ...rejection.headers } },
  );
}

/** A body that could not be read. */
export function cannotRead(error: unknown): Rejection {
  const message = error instanceof Error ? error.message : String(error);
  return new Rejection(400, "bad_request", `Cannot read the body: ${message}`);
}

/** A body over `max_body_bytes`. */
export function tooLarge(limit: number): Rejection {
  return new Rejection(413, "too_large", `Body is over max_body_bytes (${limit})`);
}
