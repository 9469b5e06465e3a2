import * as z from 'zod';

/** Server-generated identifiers are UUIDs; anything else in an id position is a 400. */
export const Id = z.uuid({ message: 'must be a UUID' });
export const Timestamp = z.iso.datetime().describe('ISO 8601 UTC');

export const UserPathParams = z.object({ user_id: Id });

export const SORTS = ['date-descending', 'date-ascending', 'name-ascending', 'name-descending'] as const;
export const Sort = z.enum(SORTS);

/** Paging alone: TAO's skip/size plus an opaque cursor (lists with one fixed order). */
export const PageQuery = z.object({
  skip: z.coerce.number().int().min(0).max(1_000_000).default(0).describe('Items to skip (O(skip))'),
  size: z.coerce.number().int().min(1).max(1000).default(100).describe('Page size'),
  cursor: z.string().min(1).max(2048).optional().describe('Opaque cursor from X-Next-Cursor (O(page))'),
});

/** TAO's list parameters: paging and sort. Per-resource filters extend this. */
export const ListQuery = PageQuery.extend({ sort: Sort.default('date-descending') });
export type ListQuery = z.infer<typeof ListQuery>;

/** The one error shape: TAO's `error_desc`/`error_code` plus a machine code, details and the request id. */
export const ErrorBody = z.object({
  error_desc: z.string(),
  error_code: z.number().int(),
  code: z.string(),
  details: z.array(
    z.object({ path: z.array(z.union([z.string(), z.number()])).optional(), message: z.string(), code: z.string().optional() }),
  ),
  request_id: z.string(),
});

/** Tag values as users write them: short, printable, no commas (a comma separates tags in a filter). */
export const Tag = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^,\p{Cc}]+$/u, 'must not contain commas or control characters');

export const AuditEntry = z
  .object({
    at: Timestamp,
    actor_id: Id,
    action: z.string().describe('The operation, as in the OpenAPI operationId'),
    method: z.string(),
    path: z.string(),
    resource_id: Id.optional().describe('The id of what a create made'),
    request_id: z.string(),
  })
  .meta({ id: 'AuditEntry' });
