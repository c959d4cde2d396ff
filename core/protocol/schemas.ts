/**
 * The zod schemas of the callback bodies, one per payload shape, by name; `commands.ts` names
 * the shape of each command. A schema requires only the fields that say what happened (the
 * group, the accounts, the content, the list acted on); message ids (`MsgSeq`, `MsgKey`,
 * `MsgId`, ...) are optional, and their absence only changes the dedup key. Every other
 * documented field is optional but must have its documented type. Loose objects everywhere:
 * unknown fields are kept, and nothing transforms, so validating never changes what is
 * delivered. Built once at module load. Only the listener's thread loads this module (zod
 * costs the delivery worker heap).
 *
 * @module
 */
import type { z } from "zod";
import { GROUP_SCHEMAS } from "./_schemas_group.ts";
import { USER_SCHEMAS } from "./_schemas_user.ts";
import { SERVICE_SCHEMAS } from "./_schemas_services.ts";

export { issueMessage, LIST_BAD_ITEMS, MSG_CONTENT_SCHEMAS, valueAt } from "./_schema_parts.ts";

/**
 * The schema of each payload shape, named after its type in the `payloads*.ts` files
 * (without `Payload`). Several commands may share one shape.
 */
export const SCHEMAS = {
  ...GROUP_SCHEMAS,
  ...USER_SCHEMAS,
  ...SERVICE_SCHEMAS,
} satisfies Record<string, z.ZodType>;

/** The name of a payload shape of {@linkcode SCHEMAS}. */
export type SchemaName = keyof typeof SCHEMAS;
