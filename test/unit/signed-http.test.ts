import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postSigned } from '../../functions/core/signed-http';

/** The transport against a real local HTTP server: signing headers arrive, and retryable answers are retried. */
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
const signer = new AwsClient({ accessKeyId: 'AKIDUNIT', secretAccessKey: 'secret', service: 'dynamodb', region: 'eu-west-1' });

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('postSigned', () => {
  it('sends a SigV4-signed POST and returns the answer', async () => {
    received.length = 0;
    const response = await postSigned(signer, url, { headers: { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, body: '{}' });
    expect(response).toEqual({ status: 200, body: '{"ok":true}' });
    expect(received[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDUNIT\/\d{8}\/eu-west-1\/dynamodb\/aws4_request/);
    expect(received[0]!.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
  });

  it('retries 5xx and throttling, then answers what came last', async () => {
    received.length = 0;
    answers.push({ status: 500, body: '{}' }, { status: 400, body: '{"__type":"x#ThrottlingException"}' }, { status: 200, body: '{"done":1}' });
    expect(await postSigned(signer, url, { headers: {}, body: '{}' })).toEqual({ status: 200, body: '{"done":1}' });
    expect(received).toHaveLength(3);
  });

  it('does not retry a client error such as a failed condition', async () => {
    received.length = 0;
    answers.push({ status: 400, body: '{"__type":"x#ConditionalCheckFailedException"}' });
    expect((await postSigned(signer, url, { headers: {}, body: '{}' })).status).toBe(400);
    expect(received).toHaveLength(1);
  });
});
