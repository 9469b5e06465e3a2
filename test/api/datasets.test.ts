import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Api,
  type DatasetInput,
  ERROR_KEYS,
  ERROR_TYPES,
  type Reply,
  type TestUser,
  admin,
  anonymous,
  client,
  createDatasets,
  datasetsPath,
  errorShapeOf,
  newUser,
} from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

interface Dataset {
  id: string;
  user_id: string;
  name: string;
  description: string;
  type: string;
  format: string;
  version: string;
  logo: string;
  tags: string[];
  revision: number;
  created_on: string;
  last_modified: string;
}

const datasetPath = (userId: string, id: string) => `${datasetsPath(userId)}/${id}`;

/** The exact number of datasets a user has, as the list reports it. */
async function countOf(user: TestUser): Promise<number> {
  const list = await user.api.get(`${datasetsPath(user.id)}?size=1`);
  expect(list.status).toBe(200);
  return Number(list.headers.get('x-pagination-total'));
}

function expectFlatError(reply: Reply, status: number) {
  expect(reply.status, reply.text).toBe(status);
  expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
  expect(reply.body.error_code).toBe(status);
}

describe('dataset CRUD', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'crud' });
  });

  it('POST with only type and format and no Content-Type creates a dataset with defaults', async () => {
    // Act
    const created = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'kitti' }, { noContentType: true });

    // Assess
    expect(created.status, created.text).toBe(201);
    expect(created.body.id).toMatch(UUID);
    expect(created.body).toMatchObject({
      user_id: owner.id,
      type: 'object_detection',
      format: 'kitti',
      description: '',
      version: '1.0.0',
      logo: '',
      tags: [],
      revision: 1,
    });
    expect(created.body.name).toMatch(/^dataset-/);
    expect(created.body.created_on).toMatch(ISO);
    expect(created.body.last_modified).toBe(created.body.created_on);
    expect(created.headers.get('etag')).toBe('"1"');
  });

  it('GET answers the stored dataset with its ETag', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [{ type: 'image_classification', format: 'default', name: 'Pets', tags: ['cats', 'dogs'] }]);

    // Act
    const got = await owner.api.get(datasetPath(owner.id, made.id));

    // Assess
    expect(got.status).toBe(200);
    expect(got.body).toEqual(made);
    expect(got.headers.get('etag')).toBe(`"${made.revision}"`);
  });

  it('PATCH changes only the named fields', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [
      { type: 'object_detection', format: 'coco', name: 'Roads', description: 'dashcam frames', tags: ['car'], version: '2.0', logo: 'https://example.test/l.png' },
    ]);

    // Act
    const patched = await owner.api.patch(datasetPath(owner.id, made.id), { description: 'dashcam frames, night' });

    // Assess
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toEqual({
      ...made,
      description: 'dashcam frames, night',
      revision: made.revision + 1,
      last_modified: expect.stringMatching(ISO),
    });
    expect(patched.body.last_modified >= made.last_modified).toBe(true);
    expect(patched.headers.get('etag')).toBe(`"${made.revision + 1}"`);
    const got = await owner.api.get(datasetPath(owner.id, made.id));
    expect(got.body).toEqual(patched.body);
  });

  it('PUT replaces the editable fields and resets the omitted optional ones to their defaults', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [
      { type: 'object_detection', format: 'coco', name: 'Full', description: 'd', tags: ['a', 'b'], version: '3.1', logo: 'https://example.test/x.png' },
    ]);

    // Act
    const replaced = await owner.api.put(datasetPath(owner.id, made.id), { type: 'semantic_segmentation', format: 'unet' });

    // Assess
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body).toMatchObject({
      id: made.id,
      user_id: owner.id,
      type: 'semantic_segmentation',
      format: 'unet',
      description: '',
      version: '1.0.0',
      logo: '',
      tags: [],
      revision: made.revision + 1,
      created_on: made.created_on,
    });
    expect(replaced.body.name).toMatch(/^dataset-/);
    expect(replaced.headers.get('etag')).toBe(`"${made.revision + 1}"`);
    expect((await owner.api.get(datasetPath(owner.id, made.id))).body).toEqual(replaced.body);
  });

  it('DELETE answers the deleted dataset; afterwards it is not found', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [{ type: 'object_detection', format: 'yolo', name: 'Doomed' }]);

    // Act
    const deleted = await owner.api.delete(datasetPath(owner.id, made.id));

    // Assess
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual(made);
    expectFlatError(await owner.api.get(datasetPath(owner.id, made.id)), 404);
    expectFlatError(await owner.api.delete(datasetPath(owner.id, made.id)), 404);
    expectFlatError(await owner.api.patch(datasetPath(owner.id, made.id), { name: 'back' }), 404);
    const list = await owner.api.get(`${datasetsPath(owner.id)}?size=1000`);
    expect(list.body.map((d: Dataset) => d.id)).not.toContain(made.id);
  });

  it('a dataset id that was never issued is a 404', async () => {
    expectFlatError(await owner.api.get(datasetPath(owner.id, randomUUID())), 404);
  });
});

describe('concurrent changes', () => {
  it('concurrent PATCHes without If-Match lose no update: every success has its own revision', async () => {
    // Prepare
    const owner = await newUser({ label: 'concurrent' });
    const [made] = await createDatasets(owner, [{ type: 'object_detection', format: 'coco', name: 'Busy' }]);

    // Act
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => owner.api.patch(datasetPath(owner.id, made.id), { description: `writer ${i}` })),
    );

    // Assess
    for (const reply of replies) expect([200, 409], reply.text).toContain(reply.status);
    const succeeded = replies.filter((r) => r.status === 200);
    const revisions = succeeded.map((r) => r.body.revision);
    expect(new Set(revisions).size).toBe(succeeded.length);
    const final = await owner.api.get(datasetPath(owner.id, made.id));
    expect(final.body.revision).toBe(1 + succeeded.length);
    const newest = succeeded.find((r) => r.body.revision === final.body.revision)!;
    expect(final.body.description).toBe(newest.body.description);
  });
});

describe('If-Match', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'if-match' });
  });

  it('a stale ETag is a 412 and changes nothing; the current one succeeds', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [{ type: 'object_detection', format: 'coco', name: 'Guarded' }]);
    const first = await owner.api.patch(datasetPath(owner.id, made.id), { name: 'Guarded v2' }, { headers: { 'if-match': '"1"' } });
    expect(first.status).toBe(200);

    // Act
    const stalePatch = await owner.api.patch(datasetPath(owner.id, made.id), { name: 'lost update' }, { headers: { 'if-match': '"1"' } });
    const stalePut = await owner.api.put(datasetPath(owner.id, made.id), { type: 'ocrnet', format: 'raw' }, { headers: { 'if-match': '"1"' } });
    const staleDelete = await owner.api.delete(datasetPath(owner.id, made.id), { headers: { 'if-match': '"1"' } });
    const current = await owner.api.patch(datasetPath(owner.id, made.id), { name: 'Guarded v3' }, { headers: { 'if-match': first.headers.get('etag')! } });

    // Assess
    for (const stale of [stalePatch, stalePut, staleDelete]) {
      expectFlatError(stale, 412);
      expect(stale.body.code).toBe('precondition_failed');
    }
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ name: 'Guarded v3', type: 'object_detection', revision: 3 });
  });

  it('nothing changes on a 412', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [{ type: 'object_detection', format: 'coco', name: 'Untouched' }]);

    // Act
    const stale = await owner.api.put(datasetPath(owner.id, made.id), { type: 'ocrnet', format: 'raw' }, { headers: { 'if-match': '"7"' } });

    // Assess
    expect(stale.status).toBe(412);
    const got = await owner.api.get(datasetPath(owner.id, made.id));
    expect(got.body).toEqual(made);
  });

  it('If-Match: * and weak or listed ETags match the current revision', async () => {
    // Prepare
    const [made] = await createDatasets(owner, [{ type: 'object_detection', format: 'coco', name: 'Star' }]);

    // Act
    const star = await owner.api.patch(datasetPath(owner.id, made.id), { name: 'Star 2' }, { headers: { 'if-match': '*' } });
    const weak = await owner.api.patch(datasetPath(owner.id, made.id), { name: 'Star 3' }, { headers: { 'if-match': 'W/"2"' } });
    const listed = await owner.api.put(datasetPath(owner.id, made.id), { type: 'ocrnet', format: 'raw', name: 'Star 4' }, { headers: { 'if-match': '"1", "3"' } });
    const deleted = await owner.api.delete(datasetPath(owner.id, made.id), { headers: { 'if-match': '"4"' } });

    // Assess
    expect([star.status, weak.status, listed.status, deleted.status]).toEqual([200, 200, 200, 200]);
    expect(deleted.body).toMatchObject({ name: 'Star 4', revision: 4 });
    expect((await owner.api.get(datasetPath(owner.id, made.id))).status).toBe(404);
  });
});

describe('Idempotency-Key', () => {
  it('the same key and body answer the first response, replayed, and create one dataset', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem' });
    const key = randomUUID();
    const body = { type: 'object_detection', format: 'coco', name: 'Once' };

    // Act
    const first = await owner.api.post(datasetsPath(owner.id), body, { headers: { 'idempotency-key': key } });
    const second = await owner.api.post(datasetsPath(owner.id), body, { headers: { 'idempotency-key': key } });

    // Assess
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(await countOf(owner)).toBe(1);
  });

  it('a request that failed does not use up its key: the corrected retry creates the dataset', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem-retry' });
    const key = randomUUID();
    const bad = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'png' }, { headers: { 'idempotency-key': key } });
    expect(bad.status).toBe(400);

    // Act
    const fixed = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'coco' }, { headers: { 'idempotency-key': key } });

    // Assess
    expect(fixed.status, fixed.text).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
    expect(await countOf(owner)).toBe(1);
  });

  it('a key without a valid token is a 401, and is not remembered', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem-401' });
    const key = randomUUID();
    const body = { type: 'object_detection', format: 'coco' };

    // Act
    const refused = await anonymous().post(datasetsPath(owner.id), body, { headers: { 'idempotency-key': key } });
    const accepted = await owner.api.post(datasetsPath(owner.id), body, { headers: { 'idempotency-key': key } });

    // Assess
    expectFlatError(refused, 401);
    expect(accepted.status).toBe(201);
    expect(accepted.headers.get('idempotent-replayed')).toBeNull();
  });

  it('the same key with another body is a 422 and creates nothing', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem-422' });
    const key = randomUUID();
    expect((await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'coco' }, { headers: { 'idempotency-key': key } })).status).toBe(201);

    // Act
    const other = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'kitti' }, { headers: { 'idempotency-key': key } });

    // Assess
    expectFlatError(other, 422);
    expect(await countOf(owner)).toBe(1);
  });

  it('20 concurrent identical POSTs with one key create exactly one dataset', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem-race' });
    const key = randomUUID();
    const body = { type: 'object_detection', format: 'coco', name: 'Raced' };

    // Act
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => owner.api.post(datasetsPath(owner.id), body, { headers: { 'idempotency-key': key } })),
    );

    // Assess
    for (const reply of replies) expect([201, 409], reply.text).toContain(reply.status);
    const ids = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(await countOf(owner)).toBe(1);
  });

  it('a key belongs to its caller: another user with the same key and body gets a dataset of its own', async () => {
    // Prepare
    const alice = await newUser({ label: 'idem-a' });
    const bob = await newUser({ label: 'idem-b' });
    const key = randomUUID();
    const body = { type: 'object_detection', format: 'coco' };
    const mine = await alice.api.post(datasetsPath(alice.id), body, { headers: { 'idempotency-key': key } });

    // Act
    const theirs = await bob.api.post(datasetsPath(bob.id), body, { headers: { 'idempotency-key': key } });

    // Assess
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.body.user_id).toBe(bob.id);
  });

  it('an empty or over-long key is a 400', async () => {
    // Prepare
    const owner = await newUser({ label: 'idem-400' });

    // Act
    const long = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'coco' }, { headers: { 'idempotency-key': 'k'.repeat(256) } });

    // Assess
    expectFlatError(long, 400);
    expect(await countOf(owner)).toBe(0);
  });
});

describe('bad input', () => {
  let owner: TestUser;
  let existing: Dataset;
  beforeAll(async () => {
    owner = await newUser({ label: 'bad-input' });
    [existing] = await createDatasets(owner, [{ type: 'object_detection', format: 'coco', name: 'Keep me' }]);
  });

  const post = (raw: string) => owner.api.post(datasetsPath(owner.id), undefined, { raw });

  it('an unknown field is a 400 that names it, and nothing is stored', async () => {
    // Act
    const reply = await owner.api.post(datasetsPath(owner.id), { type: 'object_detection', format: 'coco', colour: 'blue' });

    // Assess
    expectFlatError(reply, 400);
    expect(reply.body.code).toBe('bad_request');
    expect(JSON.stringify(reply.body.details)).toContain('colour');
    expect(await countOf(owner)).toBe(1);
  });

  it.each([
    ['a number as type', { type: 5, format: 'coco' }, 'type'],
    ['a number as name', { type: 'object_detection', format: 'coco', name: 123 }, 'name'],
    ['a string as tags', { type: 'object_detection', format: 'coco', tags: 'a,b' }, 'tags'],
    ['a null format', { type: 'object_detection', format: null }, 'format'],
    ['a missing format', { type: 'object_detection' }, 'format'],
    ['an unknown type', { type: 'cat_detection', format: 'coco' }, 'type'],
    ['an unknown format', { type: 'object_detection', format: 'png' }, 'format'],
    ['a 201-character name', { type: 'object_detection', format: 'coco', name: 'x'.repeat(201) }, 'name'],
    ['a blank name', { type: 'object_detection', format: 'coco', name: '   ' }, 'name'],
    ['a tag with a comma', { type: 'object_detection', format: 'coco', tags: ['a,b'] }, 'tags'],
    ['51 tags', { type: 'object_detection', format: 'coco', tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags'],
  ])('%s is a 400 whose details point at the field, and nothing is stored', async (_, body, field) => {
    // Act
    const reply = await owner.api.post(datasetsPath(owner.id), body);

    // Assess
    expectFlatError(reply, 400);
    const paths = (reply.body.details as { path: unknown[] }[]).map((d) => d.path);
    expect(paths).toContainEqual(expect.arrayContaining(['body', field]));
    expect(await countOf(owner)).toBe(1);
  });

  it.each([
    ['malformed JSON', '{"type": "object_detection", "format":'],
    ['an array', '[{"type": "object_detection", "format": "coco"}]'],
    ['null', 'null'],
    ['a string', '"object_detection"'],
    ['an empty body', ''],
  ])('%s as the body is a 400, and nothing is stored', async (_, raw) => {
    // Act
    const reply = await post(raw);

    // Assess
    expectFlatError(reply, 400);
    expect(await countOf(owner)).toBe(1);
  });

  it('a body over 10 MB is a 413, again and again (the connection is not left broken)', async () => {
    // Prepare
    const huge = JSON.stringify({ type: 'object_detection', format: 'coco', description: 'x'.repeat(11 * 1024 * 1024) });

    // Act
    const first = await post(huge);
    const second = await post(huge);
    const small = await owner.api.get(datasetPath(owner.id, existing.id));

    // Assess
    expectFlatError(first, 413);
    expectFlatError(second, 413);
    expect(small.status).toBe(200);
    expect(await countOf(owner)).toBe(1);
  });

  it('bad PATCH and PUT bodies are 400s and change nothing', async () => {
    // Act
    const replies = [
      await owner.api.patch(datasetPath(owner.id, existing.id), { name: 'ok', colour: 'blue' }),
      await owner.api.patch(datasetPath(owner.id, existing.id), { type: 'nope' }),
      await owner.api.patch(datasetPath(owner.id, existing.id), undefined, { raw: '{"name":' }),
      await owner.api.patch(datasetPath(owner.id, existing.id), [{ name: 'array' }]),
      await owner.api.put(datasetPath(owner.id, existing.id), { name: 'no type or format' }),
      await owner.api.put(datasetPath(owner.id, existing.id), { type: 'object_detection', format: 'coco', id: randomUUID() }),
    ];

    // Assess
    for (const reply of replies) expectFlatError(reply, 400);
    expect((await owner.api.get(datasetPath(owner.id, existing.id))).body).toEqual(existing);
  });

  it('ids that are not UUIDs in the path are 400s', async () => {
    // Act
    const replies = [
      await owner.api.get(datasetsPath('not-a-uuid')),
      await owner.api.post(datasetsPath('12345'), { type: 'object_detection', format: 'coco' }),
      await owner.api.get(datasetPath(owner.id, 'not-a-uuid')),
      await owner.api.get(datasetPath(owner.id, `${existing.id}x`)),
      await owner.api.put(datasetPath(owner.id, '1'), { type: 'object_detection', format: 'coco' }),
      await owner.api.patch(datasetPath(owner.id, 'abc'), { name: 'x' }),
      await owner.api.delete(datasetPath(owner.id, 'abc')),
      await owner.api.delete(datasetPath('abc', existing.id)),
    ];

    // Assess
    for (const reply of replies) {
      expectFlatError(reply, 400);
      expect(JSON.stringify(reply.body.details)).toContain('path');
    }
    expect(await countOf(owner)).toBe(1);
  });

  it.each([
    ['size=1001', 'size=1001'],
    ['size=0', 'size=0'],
    ['size=ten', 'size=ten'],
    ['skip=-1', 'skip=-1'],
    ['an unknown sort', 'sort=size-ascending'],
    ['an unknown type filter', 'type=cat_detection'],
    ['an unknown format filter', 'format=png'],
  ])('a list with %s is a 400', async (_, query) => {
    expectFlatError(await owner.api.get(`${datasetsPath(owner.id)}?${query}`), 400);
  });
});

describe('isolation and authentication', () => {
  let alice: TestUser;
  let bob: TestUser;
  let hers: Dataset;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([newUser({ label: 'alice' }), newUser({ label: 'bob' })]);
    [hers] = await createDatasets(alice, [{ type: 'object_detection', format: 'coco', name: 'Private', tags: ['secret'] }]);
  });

  it("another user cannot see, list, change or delete a user's dataset: 404, and it stays unchanged", async () => {
    // Act
    const replies = [
      await bob.api.get(datasetPath(alice.id, hers.id)),
      await bob.api.get(datasetsPath(alice.id)),
      await bob.api.post(datasetsPath(alice.id), { type: 'object_detection', format: 'coco' }),
      await bob.api.put(datasetPath(alice.id, hers.id), { type: 'ocrnet', format: 'raw' }),
      await bob.api.patch(datasetPath(alice.id, hers.id), { name: 'Mine now' }),
      await bob.api.delete(datasetPath(alice.id, hers.id)),
      // Her dataset id under his own namespace is not his either.
      await bob.api.get(datasetPath(bob.id, hers.id)),
      await bob.api.patch(datasetPath(bob.id, hers.id), { name: 'Mine now' }),
      await bob.api.delete(datasetPath(bob.id, hers.id)),
    ];

    // Assess
    for (const reply of replies) {
      expectFlatError(reply, 404);
      expect(reply.text).not.toContain('Private');
    }
    expect((await alice.api.get(datasetPath(alice.id, hers.id))).body).toEqual(hers);
    expect(await countOf(alice)).toBe(1);
    expect(await countOf(bob)).toBe(0);
  });

  it('a namespace that does not exist answers 404, like one that is not yours', async () => {
    // Act
    const nobody = await bob.api.get(datasetsPath(randomUUID()));

    // Assess
    expectFlatError(nobody, 404);
  });

  it('an admin reaches any namespace, and creates datasets only for users that exist', async () => {
    // Act
    const got = await admin().get(datasetPath(alice.id, hers.id));
    const forNobody = await admin().post(datasetsPath(randomUUID()), { type: 'object_detection', format: 'coco' });

    // Assess
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(hers.id);
    expectFlatError(forNobody, 404);
  });

  const expiredJwt = [
    Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify({ sub: 'x', exp: 1_000_000_000, iss: 'https://cognito-idp.us-east-1.amazonaws.com/x' })).toString('base64url'),
    'c2lnbmF0dXJl',
  ].join('.');

  it.each([
    ['no token', undefined],
    ['a malformed header', 'Token abc'],
    ['an unknown token', `Bearer ty_${'A'.repeat(43)}`],
    ['garbage', 'Bearer nonsense'],
    ['an expired JWT', `Bearer ${expiredJwt}`],
    ['Basic credentials', `Basic ${Buffer.from('a:b').toString('base64')}`],
  ])('%s is a 401 in the flat error shape', async (_, authorization) => {
    // Act
    const headers = authorization ? { authorization } : undefined;
    const replies = [
      await anonymous().get(datasetPath(alice.id, hers.id), { headers }),
      await anonymous().get(datasetsPath(alice.id), { headers }),
      await anonymous().post(datasetsPath(alice.id), { type: 'object_detection', format: 'coco' }, { headers }),
      await anonymous().delete(datasetPath(alice.id, hers.id), { headers }),
    ];

    // Assess
    for (const reply of replies) {
      expectFlatError(reply, 401);
      expect(reply.body.code).toBe('unauthorized');
    }
    expect(await countOf(alice)).toBe(1);
  });

  it('a read-only token can read but not create, change or delete (403)', async () => {
    // Prepare
    const readOnly = client((await alice.api.post(`/api/v1/user/${alice.id}/token`, { name: 'ro', scopes: ['read'] })).body.token);

    // Act
    const read = await readOnly.get(datasetPath(alice.id, hers.id));
    const list = await readOnly.get(datasetsPath(alice.id));
    const writes = [
      await readOnly.post(datasetsPath(alice.id), { type: 'object_detection', format: 'coco' }),
      await readOnly.patch(datasetPath(alice.id, hers.id), { name: 'changed' }),
      await readOnly.put(datasetPath(alice.id, hers.id), { type: 'ocrnet', format: 'raw' }),
      await readOnly.delete(datasetPath(alice.id, hers.id)),
    ];

    // Assess
    expect(read.status).toBe(200);
    expect(list.status).toBe(200);
    for (const reply of writes) {
      expectFlatError(reply, 403);
      expect(reply.body.code).toBe('forbidden');
    }
    expect((await alice.api.get(datasetPath(alice.id, hers.id))).body).toEqual(hers);
    expect(await countOf(alice)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------
// Lists: one user with 260 datasets whose names, types, formats and tags follow known patterns, so
// every expectation is computed from the inputs.

const TOTAL = 260;
const WORDS = ['Zebra', 'apple', 'Mango', 'banana', 'Kiwi'];
const TYPES = ['object_detection', 'image_classification', 'semantic_segmentation', 'instance_segmentation'];
const FORMATS = ['coco', 'kitti', 'yolo', 'voc', 'raw'];
/** Names where one is a prefix of another followed by a character that sorts low (space, '!'). */
const SPECIAL_NAMES = ['Cats', 'cats v2', 'CATS-final', 'cat', 'Cats!', 'ca ts', 'c', 'Twin', 'twin', 'TWIN', 'Twin', 'twin'];

function inputFor(i: number): DatasetInput {
  const tags: string[] = [];
  if (i % 2 === 0) tags.push('even');
  if (i % 3 === 0) tags.push('three');
  if (i % 37 === 0) tags.push('rare');
  return {
    type: TYPES[i % TYPES.length]!,
    format: FORMATS[i % FORMATS.length]!,
    name: SPECIAL_NAMES[i] ?? `${WORDS[i % WORDS.length]} ${String(i).padStart(3, '0')}`,
    tags,
  };
}

const nextLink = (reply: Reply): string | undefined => /<([^>]+)>;\s*rel="next"/.exec(reply.headers.get('link') ?? '')?.[1];

interface Walk {
  items: Dataset[];
  pageSizes: number[];
  totals: number[];
}

/** Follow skip/size until a page comes back empty or short. */
async function walkBySkip(api: Api, base: string, size: number): Promise<Walk & { lastHasCursor: boolean }> {
  const walk: Walk = { items: [], pageSizes: [], totals: [] };
  for (let skip = 0; ; skip += size) {
    const page = await api.get(`${base}${base.includes('?') ? '&' : '?'}size=${size}&skip=${skip}`);
    expect(page.status, page.text).toBe(200);
    walk.items.push(...page.body);
    walk.pageSizes.push(page.body.length);
    walk.totals.push(Number(page.headers.get('x-pagination-total')));
    const hasCursor = page.headers.has('x-next-cursor');
    if (page.body.length < size || !hasCursor) return { ...walk, lastHasCursor: hasCursor };
    expect(walk.pageSizes.length).toBeLessThan(1000);
  }
}

/** Follow X-Next-Cursor (or the Link header) until there is none. */
async function walkByCursor(api: Api, base: string, size: number, via: 'header' | 'link'): Promise<Walk> {
  const walk: Walk = { items: [], pageSizes: [], totals: [] };
  let url: string | undefined = `${base}${base.includes('?') ? '&' : '?'}size=${size}`;
  while (url) {
    const page: Reply = await api.get(url);
    expect(page.status, page.text).toBe(200);
    walk.items.push(...page.body);
    walk.pageSizes.push(page.body.length);
    walk.totals.push(Number(page.headers.get('x-pagination-total')));
    const cursor = page.headers.get('x-next-cursor');
    const link = nextLink(page);
    expect(Boolean(link)).toBe(Boolean(cursor));
    if (!cursor) break;
    expect(new URL(link!).searchParams.get('cursor')).toBe(cursor);
    url = via === 'header' ? `${base}${base.includes('?') ? '&' : '?'}size=${size}&cursor=${encodeURIComponent(cursor)}` : link;
    expect(walk.pageSizes.length).toBeLessThan(1000);
  }
  return walk;
}

/** Every page is full but the last, which is not empty unless the whole result is. */
function expectFullPages(pageSizes: number[], size: number, total: number) {
  const expected: number[] = [];
  for (let left = total; left > 0; left -= size) expected.push(Math.min(size, left));
  expect(pageSizes.filter((n, i) => !(n === 0 && i === pageSizes.length - 1))).toEqual(expected);
}

describe('lists', () => {
  let lister: TestUser;
  let all: Dataset[];
  const base = () => datasetsPath(lister.id);

  beforeAll(async () => {
    lister = await newUser({ label: 'lister' });
    all = await createDatasets(lister, Array.from({ length: TOTAL }, (_, i) => inputFor(i)));
  });

  it('the list is a bare JSON array with an exact X-Pagination-Total, newest first by default, 100 a page', async () => {
    // Act
    const page = await lister.api.get(base());

    // Assess
    expect(page.status).toBe(200);
    expect(Array.isArray(page.body)).toBe(true);
    expect(page.body).toHaveLength(100);
    expect(page.headers.get('x-pagination-total')).toBe(String(TOTAL));
    expect(page.headers.get('x-next-cursor')).toBeTruthy();
    const dates = page.body.map((d: Dataset) => d.created_on);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it('walking skip/size visits every dataset once, in full pages, and the last page has no cursor', async () => {
    // Act
    const walk = await walkBySkip(lister.api, base(), 40);

    // Assess
    expect(walk.totals.every((t) => t === TOTAL)).toBe(true);
    expectFullPages(walk.pageSizes, 40, TOTAL);
    const ids = walk.items.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(all.map((d) => d.id)));
    expect(walk.lastHasCursor).toBe(false);
  });

  it.each(['header', 'link'] as const)('following the cursor (%s) visits every dataset once, in full pages', async (via) => {
    // Act
    const walk = await walkByCursor(lister.api, `${base()}?sort=date-ascending`, 60, via);

    // Assess
    expect(walk.totals.every((t) => t === TOTAL)).toBe(true);
    expectFullPages(walk.pageSizes, 60, TOTAL);
    const ids = walk.items.map((d) => d.id);
    expect(new Set(ids).size).toBe(TOTAL);
    expect(new Set(ids)).toEqual(new Set(all.map((d) => d.id)));
    const dates = walk.items.map((d) => d.created_on);
    expect(dates).toEqual([...dates].sort());
  });

  it('a page whose size divides the total exactly ends without a cursor and without an empty page', async () => {
    // Act
    const walk = await walkByCursor(lister.api, base(), 65, 'header');

    // Assess
    expect(walk.pageSizes).toEqual([65, 65, 65, 65]);
  });

  it('skip past the end answers an empty page with the exact total', async () => {
    // Act
    const page = await lister.api.get(`${base()}?skip=${TOTAL}`);

    // Assess
    expect(page.status).toBe(200);
    expect(page.body).toEqual([]);
    expect(page.headers.get('x-pagination-total')).toBe(String(TOTAL));
    expect(page.headers.has('x-next-cursor')).toBe(false);
    expect(page.headers.has('link')).toBe(false);
  });

  it('size up to 1000 is allowed; over 1000 is a 400', async () => {
    // Act
    const max = await lister.api.get(`${base()}?size=1000`);
    const over = await lister.api.get(`${base()}?size=1001`);

    // Assess
    expect(max.status).toBe(200);
    expect(max.body).toHaveLength(TOTAL);
    expect(max.headers.has('x-next-cursor')).toBe(false);
    expectFlatError(over, 400);
  });

  it.each([
    ['date-ascending', (a: Dataset, b: Dataset) => a.created_on <= b.created_on],
    ['date-descending', (a: Dataset, b: Dataset) => a.created_on >= b.created_on],
    ['name-ascending', (a: Dataset, b: Dataset) => a.name.toLowerCase() <= b.name.toLowerCase()],
    ['name-descending', (a: Dataset, b: Dataset) => a.name.toLowerCase() >= b.name.toLowerCase()],
  ])('sort=%s really orders the whole list, across pages', async (sort, inOrder) => {
    // Act
    const walk = await walkByCursor(lister.api, `${base()}?sort=${sort}`, 90, 'header');

    // Assess
    expect(walk.items).toHaveLength(TOTAL);
    expect(new Set(walk.items.map((d) => d.id)).size).toBe(TOTAL);
    const outOfOrder = walk.items.slice(1).flatMap((d, i) => (inOrder(walk.items[i]!, d) ? [] : [`${walk.items[i]!.name} | ${d.name}`]));
    expect(outOfOrder).toEqual([]);
  });

  it('names that share a prefix sort as words do: "cat" < "cats" < "cats v2" < "cats!" < "cats-final"', async () => {
    // Act
    const page = await lister.api.get(`${base()}?sort=name-ascending&name=cat`);

    // Assess
    expect(page.body.map((d: Dataset) => d.name)).toEqual(['cat', 'Cats', 'cats v2', 'Cats!', 'CATS-final']);
  });

  it.each(['name-ascending', 'name-descending'])('datasets with equal names page exactly (%s, one a page)', async (sort) => {
    // Prepare
    const twins = all.filter((d) => d.name.toLowerCase() === 'twin').map((d) => d.id);

    // Act
    const walk = await walkByCursor(lister.api, `${base()}?sort=${sort}&name=twin`, 1, 'link');

    // Assess
    expect(twins).toHaveLength(5);
    expect(walk.pageSizes).toEqual([1, 1, 1, 1, 1]);
    expect(walk.items.map((d) => d.id).sort()).toEqual([...twins].sort());
  });

  const filters: [string, string, (i: number) => boolean, number][] = [
    ['name (substring, any case)', 'name=AnA', (i) => inputFor(i).name!.toLowerCase().includes('ana'), 7],
    ['name with a space', `name=${encodeURIComponent('O 1')}`, (i) => inputFor(i).name!.toLowerCase().includes('o 1'), 9],
    ['type', 'type=semantic_segmentation', (i) => i % 4 === 2, 11],
    ['format', 'format=voc', (i) => i % 5 === 3, 10],
    ['type and format', 'type=image_classification&format=kitti', (i) => i % 20 === 1, 3],
    ['one tag', 'tag=three', (i) => i % 3 === 0, 25],
    ['tags (all of them)', 'tag=even,three', (i) => i % 6 === 0, 7],
    ['a sparse tag', 'tag=rare', (i) => i % 37 === 0, 3],
    ['a sparse tag and a type', 'tag=rare&type=object_detection', (i) => i % 37 === 0 && i % 4 === 0, 1],
    ['a tag no dataset has', 'tag=even,none', () => false, 5],
    ['name and tag, sorted by name', 'name=kiwi&tag=even&sort=name-descending', (i) => inputFor(i).name!.toLowerCase().includes('kiwi') && i % 2 === 0, 4],
  ];

  it.each(filters)('filter by %s: exact total, full pages, exactly the matching datasets', async (_, query, matches, size) => {
    // Prepare
    const expected = new Set(all.filter((_, i) => matches(i)).map((d) => d.id));

    // Act
    const byCursor = await walkByCursor(lister.api, `${base()}?${query}`, size, 'header');
    const bySkip = await walkBySkip(lister.api, `${base()}?${query}`, size);

    // Assess
    for (const walk of [byCursor, bySkip]) {
      expect(walk.totals.every((t) => t === expected.size)).toBe(true);
      expectFullPages(walk.pageSizes, size, expected.size);
      const ids = walk.items.map((d) => d.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(expected);
    }
  });

  describe('cursors', () => {
    let cursor: string;
    beforeAll(async () => {
      const first = await lister.api.get(`${base()}?size=10&sort=name-ascending&type=object_detection`);
      cursor = first.headers.get('x-next-cursor')!;
      expect(cursor).toBeTruthy();
    });
    const withCursor = (query: string, c = cursor) => `${base()}?${query}&cursor=${encodeURIComponent(c)}`;

    it('the cursor works with the query it was issued for (any page size)', async () => {
      // Act
      const next = await lister.api.get(withCursor('size=25&sort=name-ascending&type=object_detection'));

      // Assess
      expect(next.status).toBe(200);
      expect(next.body).toHaveLength(25);
      expect(next.body.every((d: Dataset) => d.type === 'object_detection')).toBe(true);
    });

    it.each([
      ['another sort', 'size=10&sort=name-descending&type=object_detection'],
      ['the default sort', 'size=10&type=object_detection'],
      ['another filter', 'size=10&sort=name-ascending&type=image_classification'],
      ['an extra filter', 'size=10&sort=name-ascending&type=object_detection&tag=even'],
      ['no filter', 'size=10&sort=name-ascending'],
    ])('with %s it is a 400', async (_, query) => {
      expectFlatError(await lister.api.get(withCursor(query)), 400);
    });

    it('another caller (even an admin who may read the namespace) gets a 400 for it', async () => {
      // Prepare
      const other = await newUser({ label: 'cursor-thief' });

      // Act
      const byAdmin = await admin().get(withCursor('size=10&sort=name-ascending&type=object_detection'));
      const onOwnList = await other.api.get(`${datasetsPath(other.id)}?size=10&sort=name-ascending&type=object_detection&cursor=${encodeURIComponent(cursor)}`);

      // Assess
      expectFlatError(byAdmin, 400);
      expectFlatError(onOwnList, 400);
    });

    it('a tampered or made-up cursor is a 400', async () => {
      // Prepare
      const [payload, signature] = cursor.split('.') as [string, string];
      const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      const forgedPayload = Buffer.from(JSON.stringify({ ...decoded, c: randomUUID() })).toString('base64url');
      const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
      const query = 'size=10&sort=name-ascending&type=object_detection';

      // Act
      const replies = [
        await lister.api.get(withCursor(query, `${forgedPayload}.${signature}`)),
        await lister.api.get(withCursor(query, `${flip(payload, 5)}.${signature}`)),
        await lister.api.get(withCursor(query, `${payload}.${flip(signature, 3)}`)),
        await lister.api.get(withCursor(query, payload)),
        await lister.api.get(withCursor(query, `${cursor}.x`)),
        await lister.api.get(withCursor(query, 'not-a-cursor')),
      ];

      // Assess
      for (const reply of replies) expectFlatError(reply, 400);
    });
  });
});

describe('tokens on a new user', () => {
  it('a token for another user cannot be used to reach the first user', async () => {
    // Prepare
    const alice = await newUser();
    const bob = await newUser();
    const [made] = await createDatasets(alice, 1);

    // Act
    const asBob = await client(bob.token).get(datasetPath(alice.id, made.id));

    // Assess
    expectFlatError(asBob, 404);
  });
});
