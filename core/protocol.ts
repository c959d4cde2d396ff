// PLACEHOLDER — being written by the protocol helper. Do not edit.
/** The parsed JSON body of any callback. */
export type CallbackPayload = Record<string, unknown> & { CallbackCommand: string };
