import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as Dynamo from '../../functions/core/dynamo';
import type * as SignedHttp from '../../functions/core/signed-http';

/**
 * The DynamoDB and Secrets Manager adapters talk to AWS through sendSigned (signed-http.ts); here it is
 * a stand-in that signs with the real signer and records the signed request instead of sending it,
 * so the wire format, the signing and the error mapping are checked without AWS. (The API tests run
 * the same adapter against dynalite for real.)
 */
process.env.TRAINYARD_TABLE = 'unit-table';
process.env.TRAINYARD_BUCKET = 'unit-bucket';
process.env.TRAINYARD_CURSOR_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cursor';
process.env.AWS_REGION = 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID = 'AKIAUNITTEST';
process.env.AWS_SECRET_ACCESS_KEY = 'unit-secret';
process.env.AWS_SESSION_TOKEN = 'unit-session';
delete process.env.TRAINYARD_DYNAMODB_ENDPOINT;
delete process.env.TRAINYARD_DYNAMODB_TRANSACTIONS;
delete process.env.TRAINYARD_CURSOR_SECRET;

let dynamo: typeof Dynamo;
const sent: Sent[] = [];

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}
let reply: { status: number; body: string } = { status: 200, body: '{}' };
vi.mock('../../functions/core/signed-http', async (importOriginal) => {
  const real = await importOriginal<typeof SignedHttp>();
  return {
    ...real,
    sendSigned: async (request: SignedHttp.AwsRequest) => {
      const { url, headers } = real.signRequest(request);
      sent.push({ url: url.toString(), headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])), body: String(request.body ?? '') });
      return { ...reply, headers: {} };
    },
  };
});

function answer(status: number, body: unknown) {
  reply = { status, body: JSON.stringify(body) };
}

beforeAll(async () => {
  dynamo = await import('../../functions/core/dynamo');
});

afterEach(() => {
  sent.length = 0;
});

describe('DynamoDB adapter', () => {
  it('sends a signed JSON-protocol request to the regional endpoint, with the table and typed values', async () => {
    answer(200, { Item: { pk: { S: 'dataset#1' }, sk: { S: 'dataset' }, revision: { N: '3' }, tags: { L: [{ S: 'a' }] } } });
    const item = await dynamo.getItem({ pk: 'dataset#1', sk: 'dataset' });
    expect(item).toEqual({ pk: 'dataset#1', sk: 'dataset', revision: 3, tags: ['a'] });
    const request = sent[0]!;
    expect(request.url).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(request.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAUNITTEST\/\d{8}\/eu-west-1\/dynamodb\/aws4_request/);
    expect(request.headers['x-amz-security-token']).toBe('unit-session');
    expect(JSON.parse(request.body)).toEqual({ TableName: 'unit-table', Key: { pk: { S: 'dataset#1' }, sk: { S: 'dataset' } }, ConsistentRead: false });
  });

  it('names DynamoDB errors as the service does, so a failed condition is recognised', async () => {
    answer(400, { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' });
    const error = await dynamo.putItem({ pk: 'x', sk: 'y' }, { ConditionExpression: 'attribute_not_exists(pk)' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(dynamo.DynamoError);
    expect(dynamo.isConditionalCheckFailure(error)).toBe(true);
    expect(dynamo.isConditionalCheckFailure(new dynamo.DynamoError('ValidationException', 'bad', 400))).toBe(false);
    expect(dynamo.isConditionalCheckFailure(new Error('The conditional request failed'))).toBe(false);
  });

  it('marshals query inputs and unmarshals pages, including the continuation key', async () => {
    answer(200, { Items: [{ pk: { S: 'a' }, n: { N: '1' } }], Count: 1, LastEvaluatedKey: { pk: { S: 'a' }, sk: { S: 'b' } } });
    const page = await dynamo.query({
      IndexName: 'gsi1',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': 'user#1#dataset' },
      ExclusiveStartKey: { pk: 'z', sk: 'z' },
      Limit: 5,
    });
    expect(page).toEqual({ items: [{ pk: 'a', n: 1 }], count: 1, lastKey: { pk: 'a', sk: 'b' } });
    expect(JSON.parse(sent[0]!.body)).toMatchObject({
      IndexName: 'gsi1',
      Limit: 5,
      ExpressionAttributeValues: { ':pk': { S: 'user#1#dataset' } },
      ExclusiveStartKey: { pk: { S: 'z' }, sk: { S: 'z' } },
    });
  });
});

describe('writes that stand or fall together', () => {
  it('become one TransactWriteItems with the table named in each item', async () => {
    answer(200, {});
    await dynamo.writeTogether([
      { put: { pk: 'dataset#1', sk: 'dataset' }, condition: { ConditionExpression: 'attribute_not_exists(pk)' } },
      { update: { pk: 'counter#u', sk: 'counter' }, UpdateExpression: 'ADD #n :one', ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: { ':one': 1 } },
    ]);
    expect(sent[0]!.headers['x-amz-target']).toBe('DynamoDB_20120810.TransactWriteItems');
    expect(JSON.parse(sent[0]!.body)).toEqual({
      TransactItems: [
        { Put: { TableName: 'unit-table', Item: { pk: { S: 'dataset#1' }, sk: { S: 'dataset' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
        {
          Update: {
            TableName: 'unit-table',
            Key: { pk: { S: 'counter#u' }, sk: { S: 'counter' } },
            UpdateExpression: 'ADD #n :one',
            ExpressionAttributeNames: { '#n': 'n' },
            ExpressionAttributeValues: { ':one': { N: '1' } },
          },
        },
      ],
    });
  });

  it('report a cancelled transaction whose condition failed as a failed condition', async () => {
    answer(400, {
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]',
    });
    const error = await dynamo.writeTogether([{ delete: { pk: 'a', sk: 'b' }, condition: { ConditionExpression: 'attribute_exists(pk)' } }]).catch((e: unknown) => e);
    expect(dynamo.isConditionalCheckFailure(error)).toBe(true);
  });
});

describe('Secrets Manager adapter', () => {
  it('reads the cursor key once from the secret named by its ARN', async () => {
    answer(200, { SecretString: 'k'.repeat(64) });
    const { cursorSigningKey } = await import('../../functions/core/secrets');
    expect(await cursorSigningKey()).toBe('k'.repeat(64));
    expect(await cursorSigningKey()).toBe('k'.repeat(64));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(sent[0]!.body)).toEqual({ SecretId: process.env.TRAINYARD_CURSOR_SECRET_ARN });
  });
});
