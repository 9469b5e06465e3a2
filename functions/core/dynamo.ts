import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { config } from './config';
import { sendSigned } from './signed-http';

/**
 * The DynamoDB adapter: the document-style operations Trainyard uses, in DynamoDB's JSON protocol.
 *
 * Why not the AWS SDK v3 client here: bundled, the DynamoDB client alone is about 330 KB minified and
 * about 100 ms of cold import, over the whole budget of a function (400 KB, 80 ms). The protocol is
 * small and stable; signed-http.ts signs it (SigV4, by aws4), sends it over keep-alive node:http(s) and
 * retries throttling and 5xx, and util-dynamodb (de)serialises attribute values exactly as the SDK's
 * DocumentClient does.
 */
export type Item = Record<string, unknown>;

export interface Expression {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

export interface QueryInput extends Expression {
  IndexName?: string;
  KeyConditionExpression: string;
  FilterExpression?: string;
  ProjectionExpression?: string;
  ScanIndexForward?: boolean;
  Limit?: number;
  ExclusiveStartKey?: Item;
  Select?: 'COUNT' | 'ALL_ATTRIBUTES';
  ConsistentRead?: boolean;
}

/** DynamoDB's error, named as the service names it (e.g. ConditionalCheckFailedException). */
export class DynamoError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { region, dynamoDbEndpoint } = config();
  const response = await sendSigned({
    url: dynamoDbEndpoint ?? `https://dynamodb.${region}.amazonaws.com/`,
    service: 'dynamodb',
    region,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` },
    body: JSON.stringify(operation === 'TransactWriteItems' || operation === 'BatchGetItem' ? input : { TableName: config().tableName, ...input }),
  });
  const body = (response.body ? JSON.parse(response.body) : {}) as Record<string, unknown>;
  if (response.status >= 300) {
    const type = String(body.__type ?? 'UnknownError').split('#').pop() ?? 'UnknownError';
    throw new DynamoError(type, String(body.message ?? body.Message ?? type), response.status);
  }
  return body;
}

const toWire = (item: Item) => marshall(item, { removeUndefinedValues: true });
const fromWire = (item: unknown) => unmarshall(item as never) as Item;

function expression(input: Expression) {
  return {
    ...(input.ExpressionAttributeNames ? { ExpressionAttributeNames: input.ExpressionAttributeNames } : {}),
    ...(input.ExpressionAttributeValues ? { ExpressionAttributeValues: toWire(input.ExpressionAttributeValues) } : {}),
  };
}

export async function getItem(key: Item, consistent = false): Promise<Item | undefined> {
  const out = await call('GetItem', { Key: toWire(key), ConsistentRead: consistent });
  return out.Item ? fromWire(out.Item) : undefined;
}

export async function putItem(item: Item, condition?: { ConditionExpression: string } & Expression): Promise<void> {
  await call('PutItem', { Item: toWire(item), ...(condition ? { ConditionExpression: condition.ConditionExpression, ...expression(condition) } : {}) });
}

/**
 * UpdateItem answering the item as it is after the update, or with `UPDATED_OLD` the updated attributes
 * as they were before (empty when the item is new: how an upsert learns it created something).
 */
export async function updateItem(
  key: Item,
  input: { UpdateExpression: string; ConditionExpression?: string } & Expression,
  returnValues: 'ALL_NEW' | 'UPDATED_OLD' = 'ALL_NEW',
): Promise<Item> {
  const out = await call('UpdateItem', {
    Key: toWire(key),
    UpdateExpression: input.UpdateExpression,
    ...(input.ConditionExpression ? { ConditionExpression: input.ConditionExpression } : {}),
    ...expression(input),
    ReturnValues: returnValues,
  });
  return out.Attributes ? fromWire(out.Attributes) : {};
}

export async function deleteItem(key: Item, condition?: { ConditionExpression: string } & Expression): Promise<void> {
  await call('DeleteItem', { Key: toWire(key), ...(condition ? { ConditionExpression: condition.ConditionExpression, ...expression(condition) } : {}) });
}

export async function query(input: QueryInput): Promise<{ items: Item[]; count: number; lastKey?: Item }> {
  const { ExclusiveStartKey, ExpressionAttributeNames, ExpressionAttributeValues, ...rest } = input;
  const out = await call('Query', {
    ...rest,
    ...expression({ ExpressionAttributeNames, ExpressionAttributeValues }),
    ...(ExclusiveStartKey ? { ExclusiveStartKey: toWire(ExclusiveStartKey) } : {}),
  });
  return {
    items: ((out.Items as unknown[] | undefined) ?? []).map(fromWire),
    count: Number(out.Count ?? 0),
    lastKey: out.LastEvaluatedKey ? fromWire(out.LastEvaluatedKey) : undefined,
  };
}

/** Every page of a query, in order (each a DynamoDB page, up to 1 MB): for reading a whole partition. */
export async function* queryPages(input: QueryInput): AsyncGenerator<Item[]> {
  let start = input.ExclusiveStartKey;
  do {
    const page = await query({ ...input, ExclusiveStartKey: start });
    yield page.items;
    start = page.lastKey;
  } while (start);
}

/** BatchGetItem over any number of keys (100 a call, unprocessed keys asked again); strongly consistent. */
export async function batchGetItems(keys: Item[]): Promise<Item[]> {
  const { tableName } = config();
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: unknown = { [tableName]: { Keys: keys.slice(i, i + 100).map(toWire), ConsistentRead: true } };
    for (let attempt = 0; pending && Object.keys(pending as object).length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      const out = await call('BatchGetItem', { RequestItems: pending });
      found.push(...(((out.Responses as Record<string, unknown[]> | undefined)?.[tableName] ?? []) as unknown[]).map(fromWire));
      pending = out.UnprocessedKeys;
    }
  }
  return found;
}

export function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof DynamoError && error.name === 'ConditionalCheckFailedException';
}

export type Write =
  | { put: Item; condition?: { ConditionExpression: string } & Expression }
  | { delete: Item; condition?: { ConditionExpression: string } & Expression }
  | { update: Item; UpdateExpression: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item };

/**
 * Several writes that stand or fall together: one TransactWriteItems in AWS. Where the table has no
 * transactions (dynalite, TRAINYARD_DYNAMODB_TRANSACTIONS=off) they run in order, so the first write
 * must carry the condition that decides, and the rest must be unconditional (counters, index items);
 * a crash between them is the only way they can part, and only there.
 * A failed condition surfaces as ConditionalCheckFailedException either way.
 */
export async function writeTogether(writes: Write[]): Promise<void> {
  if (process.env.TRAINYARD_DYNAMODB_TRANSACTIONS === 'off') {
    for (const write of writes) {
      if ('put' in write) await putItem(write.put, write.condition);
      else if ('delete' in write) await deleteItem(write.delete, write.condition);
      else await updateItem(write.update, write);
    }
    return;
  }
  const { tableName: TableName } = config();
  const conditional = (c?: { ConditionExpression: string } & Expression) => (c ? { ConditionExpression: c.ConditionExpression, ...expression(c) } : {});
  const TransactItems = writes.map((write) =>
    'put' in write
      ? { Put: { TableName, Item: toWire(write.put), ...conditional(write.condition) } }
      : 'delete' in write
        ? { Delete: { TableName, Key: toWire(write.delete), ...conditional(write.condition) } }
        : { Update: { TableName, Key: toWire(write.update), UpdateExpression: write.UpdateExpression, ...expression(write) } },
  );
  try {
    await call('TransactWriteItems', { TransactItems });
  } catch (error) {
    const reasons = String((error as Error).message);
    if (error instanceof DynamoError && error.name === 'TransactionCanceledException' && reasons.includes('ConditionalCheckFailed')) {
      throw new DynamoError('ConditionalCheckFailedException', reasons, error.status);
    }
    throw error;
  }
}
