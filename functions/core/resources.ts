import { type Caller, requireNamespace } from './caller';
import { type Expression, getItem, isConditionalCheckFailure, updateItem, type Write, writeTogether } from './dynamo';
import { countOwned, ownedByOwner, ownedCounterKey, ownedIndexKeys, ownedItem, ownedKey, type OwnedKind, type OwnedRecord } from './entities/owned';
import { Conflict, NotFound, PreconditionFailed } from './errors';
import { assertUserExists } from './identity';
import { type Page, readPage } from './pagination';
import { checkIfMatch } from './revision';
import type { ListQuery } from './schemas/common';
import { newId } from './tokens';

/**
 * The machinery every resource at the top of a user's namespace shares (datasets, models): the namespace
 * check, load-or-404, create with the namespace counter, lists with TAO's sorts, filters, signed cursors
 * and exact totals, revision-guarded changes (If-Match → 412, retries without it) and deletes. Each kind
 * brings its own fields and hooks; the HTTP shape is the one middleware stack's.
 */

const MAX_CONCURRENT_RETRIES = 3;

/** An extra condition a hook adds to a write: a DynamoDB expression with its own names and values. */
export interface WriteCondition extends Expression {
  expression: string;
}

/** The record as stored, if the caller may reach it; anything else (other namespace, missing) is "not found". */
export async function loadOwned<R extends OwnedRecord>(kind: OwnedKind, caller: Caller, ownerId: string, id: string, consistent = false): Promise<R> {
  requireNamespace(caller, ownerId);
  const record = (await getItem(ownedKey(kind, id), consistent)) as R | undefined;
  if (!record || record.ownerId !== ownerId) throw new NotFound(kind);
  return record;
}

/**
 * Create a resource in a user's namespace. The caller must own the namespace (or be an admin, and then
 * the user must exist). `build` makes the record from a fresh id (and may check or prepare what the
 * record refers to); the record and the namespace counter are written together.
 */
export async function createOwned<R extends OwnedRecord>(
  kind: OwnedKind,
  caller: Caller,
  ownerId: string,
  build: (id: string, now: string) => R | Promise<R>,
): Promise<R> {
  requireNamespace(caller, ownerId);
  if (caller.userId !== ownerId) await assertUserExists(ownerId);
  const record = await build(newId(), new Date().toISOString());
  await writeTogether([{ put: ownedItem(kind, record), condition: { ConditionExpression: 'attribute_not_exists(pk)' } }, countOwned(kind, ownerId, 1)]);
  return record;
}

/** What a list filters on, besides TAO's paging and sort. */
export interface ListFilters {
  /** Stored attribute → the value it must equal; undefined values do not filter. */
  equals?: Record<string, string | boolean | undefined>;
  /** Case-insensitive substring of the name. */
  name?: string;
  /** Comma-separated tags; an item must carry all of them. */
  tag?: string;
}

/**
 * List a namespace's resources of one kind with TAO's skip/size/sort, filters and a signed cursor.
 * Sorting by date reads gsi1, by name gsi2; filters run in DynamoDB and pages are always full; the
 * unfiltered total is the namespace counter (one read), a filtered one is counted exactly.
 */
export async function listOwned<R extends OwnedRecord>(
  kind: OwnedKind,
  caller: Caller,
  ownerId: string,
  query: ListQuery,
  filters: ListFilters,
): Promise<Page<R>> {
  requireNamespace(caller, ownerId);
  const tags = filters.tag ? [...new Set(filters.tag.split(',').map((t) => t.trim()).filter(Boolean))].sort() : [];
  const conditions: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const filter = (attribute: string, value: unknown, make: (name: string, value: string) => string, slot = attribute) => {
    names[`#${attribute}`] = attribute;
    values[`:${slot}`] = value;
    conditions.push(make(`#${attribute}`, `:${slot}`));
  };
  const equals = Object.entries(filters.equals ?? {}).filter(([, value]) => value !== undefined);
  for (const [attribute, value] of equals) filter(attribute, value, (n, v) => `${n} = ${v}`);
  if (filters.name) filter('nameKey', filters.name.toLowerCase(), (n, v) => `contains(${n}, ${v})`);
  tags.forEach((tag, i) => filter('tags', tag, (n, v) => `contains(${n}, ${v})`, `tag${i}`));
  const base = ownedByOwner(kind, ownerId, query.sort.startsWith('name') ? 'name' : 'date', query.sort.endsWith('ascending'));
  const params = conditions.length
    ? {
        ...base,
        FilterExpression: conditions.join(' AND '),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ...values },
      }
    : base;
  const page = await readPage(
    params,
    { size: query.size, skip: query.skip, cursor: query.cursor },
    // The cursor is bound to everything that shapes the result: namespace, kind, sort and filters.
    { callerId: caller.userId, query: { ns: ownerId, kind, sort: query.sort, ...Object.fromEntries(equals), name: filters.name, tags: tags.join(',') } },
    conditions.length ? undefined : async () => Number((await getItem(ownedCounterKey(kind, ownerId)))?.n ?? 0),
  );
  return { ...page, items: page.items as unknown as R[] };
}

/** The fields a change sets: the kind's own (never the id, owner, revision or times), the name always. */
export type ChangedFields<R extends OwnedRecord> = Partial<Omit<R, keyof OwnedRecord>> & Pick<R, 'name'>;

export interface ChangeHooks<R extends OwnedRecord> {
  /**
   * A condition the write must also meet, asked after `change` computed the fields from `current`. When
   * only it fails (the revision still matches), the change is computed again, even with If-Match.
   */
  condition?: (current: R) => WriteCondition | undefined;
  /** After the write succeeded: `before` is the record the change was computed from. */
  after?: (before: R, after: R) => Promise<void>;
}

/**
 * Read-modify-write guarded by the revision. `change` computes the fields to set from the current record
 * (it may refuse by throwing, and may prepare what the new fields refer to). With If-Match a lost race is
 * a 412; without, the change is computed again on the fresh record a few times before giving up with a 409.
 */
export async function changeOwned<R extends OwnedRecord>(
  kind: OwnedKind,
  caller: Caller,
  ownerId: string,
  id: string,
  ifMatch: string | undefined,
  change: (current: R) => ChangedFields<R> | Promise<ChangedFields<R>>,
  hooks: ChangeHooks<R> = {},
): Promise<R> {
  for (let attempt = 0; attempt < MAX_CONCURRENT_RETRIES; attempt++) {
    // Strongly consistent: the change is computed from, and conditioned on, the record as it is.
    const current = await loadOwned<R>(kind, caller, ownerId, id, true);
    checkIfMatch(ifMatch, current.revision);
    const fields = await change(current);
    const extra = hooks.condition?.(current);
    let updated: R;
    try {
      const next = { ...current, ...fields, revision: current.revision + 1, lastModified: new Date().toISOString() } as R;
      const changes: Record<string, unknown> = {
        ...fields,
        nameKey: next.name.toLowerCase(),
        revision: next.revision,
        lastModified: next.lastModified,
        ...ownedIndexKeys(kind, next),
      };
      const names = Object.fromEntries(Object.keys(changes).map((k) => [`#${k}`, k]));
      const values = Object.fromEntries(Object.entries(changes).map(([k, v]) => [`:${k}`, v]));
      updated = (await updateItem(ownedKey(kind, id), {
        UpdateExpression: `SET ${Object.keys(changes).map((k) => `#${k} = :${k}`).join(', ')}`,
        ConditionExpression: `attribute_exists(pk) AND #revision = :expected${extra ? ` AND (${extra.expression})` : ''}`,
        ExpressionAttributeNames: { ...names, ...extra?.ExpressionAttributeNames },
        ExpressionAttributeValues: { ...values, ':expected': current.revision, ...extra?.ExpressionAttributeValues },
      })) as unknown as R;
    } catch (error) {
      if (!isConditionalCheckFailure(error)) throw error;
      // The revision moved under us: with If-Match that is the client's precondition failing. (Only the
      // hook's condition failing is no news to the client: compute the change again.)
      if (ifMatch !== undefined && (extra === undefined || (await getItem(ownedKey(kind, id), true))?.revision !== current.revision)) {
        throw new PreconditionFailed();
      }
      continue;
    }
    await hooks.after?.(current, updated);
    return updated;
  }
  throw new Conflict(`the ${kind} kept changing while this request ran; retry`);
}

/** What a kind's DELETE adds to the shared one. */
export interface DeleteHooks<R extends OwnedRecord> {
  /**
   * Before the delete, with the record as loaded and its revision checked: may refuse by throwing, and may
   * answer a condition the delete must also meet and a `release` to run if the delete then fails. A
   * conditional-check failure inside it counts as the record changing meanwhile (412 / 409).
   */
  prepare?: (current: R) => Promise<{ condition?: WriteCondition; release?: () => Promise<void> } | void>;
  /** More writes that go with the delete (e.g. the dataset's purge record). */
  writes?: (current: R) => Write[];
  /** After the delete succeeded. */
  after?: (deleted: R) => Promise<void>;
}

/** Delete a resource, honouring If-Match, and answer it as it was. */
export async function deleteOwned<R extends OwnedRecord>(
  kind: OwnedKind,
  caller: Caller,
  ownerId: string,
  id: string,
  ifMatch: string | undefined,
  hooks: DeleteHooks<R> = {},
): Promise<R> {
  const current = await loadOwned<R>(kind, caller, ownerId, id, true);
  checkIfMatch(ifMatch, current.revision);
  let release: (() => Promise<void>) | undefined;
  try {
    const prepared = (await hooks.prepare?.(current)) ?? {};
    release = prepared.release;
    const extra = prepared.condition;
    await writeTogether([
      {
        delete: ownedKey(kind, id),
        condition: {
          ConditionExpression: `#revision = :expected${extra ? ` AND (${extra.expression})` : ''}`,
          ExpressionAttributeNames: { '#revision': 'revision', ...extra?.ExpressionAttributeNames },
          ExpressionAttributeValues: { ':expected': current.revision, ...extra?.ExpressionAttributeValues },
        },
      },
      countOwned(kind, ownerId, -1),
      ...(hooks.writes?.(current) ?? []),
    ]);
  } catch (error) {
    await release?.();
    if (!isConditionalCheckFailure(error)) throw error;
    throw ifMatch !== undefined ? new PreconditionFailed() : new Conflict(`the ${kind} changed while it was being deleted; retry`);
  }
  await hooks.after?.(current);
  return current;
}
