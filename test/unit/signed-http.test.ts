import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignUrl, sendSigned } from '../../functions/core/signed-http';

/** The transport against a real local HTTP server: signing headers arrive, and retryable answers are retried. */
process.env.AWS_ACCESS_KEY_ID = 'AKIDUNIT';
process.env.AWS_SECRET_ACCESS_KEY = 'secret';
delete process.env.AWS_SESSION_TOKEN;

const answers: { status: number; body: string }[] = [];
const received: IncomingMessage[] = [];
const server = createServer((req, res) => {
  received.push(req);
  req.resume();
  req.on('end', () => {
    const next = answers.shift() ?? { status: 200, body: '{"ok":true}' };
    res.writeHead(next.status, { 'content-type': 'application/json' });
    res.end(next.body);
  });
});
let url: string;
const request = () => ({ url, service: 'dynamodb' as const, region: 'eu-west-1', headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/x-amz-json-1.0' }, body: '{}' });

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('sendSigned', () => {
  it('sends a SigV4-signed request and returns the answer', async () => {
    received.length = 0;
    const response = await sendSigned(request());
    expect(response).toMatchObject({ status: 200, body: '{"ok":true}' });
    expect(received[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDUNIT\/\d{8}\/eu-west-1\/dynamodb\/aws4_request/);
    expect(received[0]!.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
  });

  it('retries 5xx and throttling, then answers what came last', async () => {
    received.length = 0;
    answers.push({ status: 500, body: '{}' }, { status: 400, body: '{"__type":"x#ThrottlingException"}' }, { status: 200, body: '{"done":1}' });
    expect(await sendSigned(request())).toMatchObject({ status: 200, body: '{"done":1}' });
    expect(received).toHaveLength(3);
  });

  it('does not retry a client error such as a failed condition', async () => {
    received.length = 0;
    answers.push({ status: 400, body: '{"__type":"x#ConditionalCheckFailedException"}' });
    expect((await sendSigned(request())).status).toBe(400);
    expect(received).toHaveLength(1);
  });
});

describe('presignUrl', () => {
  it('signs in the query, with the expiry asked for and the given headers (a PUT bound to its length)', () => {
    const signed = new URL(
      presignUrl({ url: 'https://bucket.s3.eu-west-1.amazonaws.com/u/a/b.jpg', service: 's3', region: 'eu-west-1', method: 'PUT', headers: { 'content-length': '123' } }, 900),
    );
    expect(signed.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(signed.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(signed.searchParams.get('X-Amz-Credential')).toMatch(/^AKIDUNIT\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
    expect(signed.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual(expect.arrayContaining(['content-length', 'host']));
    expect(signed.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives a different signature for another length: the declared size is part of what is signed', () => {
    const sign = (length: string) =>
      new URL(presignUrl({ url: 'https://bucket.s3.eu-west-1.amazonaws.com/k', service: 's3', region: 'eu-west-1', method: 'PUT', headers: { 'content-length': length } }, 900)).searchParams.get('X-Amz-Signature');
    expect(sign('10')).not.toBe(sign('11'));
  });
});
