import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ERROR_KEYS, ERROR_TYPES, type Reply, admin, anonymous, client, errorShapeOf, newUser, uniqueEmail } from './helpers';

describe('users (admin)', () => {
  it('an admin creates a user and gets its id', async () => {
    // Prepare
    const email = uniqueEmail('alice');

    // Act
    const created = await admin().post('/api/v1/admin/user', { email, name: 'Alice' });

    // Assess
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email, name: 'Alice', role: 'user' });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const fetched = await admin().get(`/api/v1/user/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.email).toBe(email);
  });

  it('a second user with the same email (in any case) is a 409', async () => {
    // Prepare
    const email = uniqueEmail('dup');
    expect((await admin().post('/api/v1/admin/user', { email, name: 'First' })).status).toBe(201);

    // Act
    const again = await admin().post('/api/v1/admin/user', { email: email.toUpperCase(), name: 'Second' });

    // Assess
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error_code: 409, code: 'conflict' });
  });

  it('a user who is not an admin gets 403 on /admin/user', async () => {
    // Prepare
    const user = await newUser();

    // Act
    const create = await user.api.post('/api/v1/admin/user', { email: uniqueEmail(), name: 'Mallory' });
    const list = await user.api.get('/api/v1/admin/user');

    // Assess
    expect(create.status).toBe(403);
    expect(create.body).toMatchObject({ error_code: 403, code: 'forbidden' });
    expect(list.status).toBe(403);
  });

  it('an admin lists users with an exact total', async () => {
    // Prepare
    const user = await newUser();

    // Act
    const list = await admin().get('/api/v1/admin/user?size=1000');

    // Assess
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body)).toBe(true);
    expect(Number(list.headers.get('x-pagination-total'))).toBe(list.body.length);
    expect(list.body.map((u: { id: string }) => u.id)).toContain(user.id);
  });

  it.each([
    ['a bad email', { email: 'not-an-email', name: 'X' }],
    ['no name', { email: 'x@example.test' }],
    ['an unknown field', { email: 'y@example.test', name: 'Y', role: 'admin' }],
  ])('%s is a 400', async (_, body) => {
    // Act
    const reply = await admin().post('/api/v1/admin/user', body);

    // Assess
    expect(reply.status).toBe(400);
    expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
  });

  it('a user that does not exist is a 404, for its tokens too', async () => {
    // Prepare
    const nobody = randomUUID();

    // Act
    const get = await admin().get(`/api/v1/user/${nobody}`);
    const mint = await admin().post(`/api/v1/user/${nobody}/token`, { name: 'ghost' });

    // Assess
    expect(get.status).toBe(404);
    expect(mint.status).toBe(404);
  });

  it('walking the user list by cursor visits every user once', async () => {
    // Prepare
    await Promise.all([newUser(), newUser(), newUser()]);
    const everyone = await admin().get('/api/v1/admin/user?size=1000');

    // Act
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let url: string | undefined = '/api/v1/admin/user?size=2';
    while (url) {
      const page: Reply = await admin().get(url);
      expect(page.status).toBe(200);
      seen.push(...page.body.map((u: { id: string }) => u.id));
      pageSizes.push(page.body.length);
      const cursor = page.headers.get('x-next-cursor');
      url = cursor ? `/api/v1/admin/user?size=2&cursor=${encodeURIComponent(cursor)}` : undefined;
    }

    // Assess: users that other suites create meanwhile are newer, so they sort before the cursor.
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of everyone.body.map((u: { id: string }) => u.id)) expect(seen).toContain(id);
    expect(pageSizes.slice(0, -1).every((n) => n === 2)).toBe(true);
  });
});

describe('personal access tokens', () => {
  it('creating a token returns its secret once; listing tokens never shows a secret', async () => {
    // Prepare
    const user = await newUser();

    // Act
    const made = await user.api.post(`/api/v1/user/${user.id}/token`, { name: 'ci', scopes: ['read'] });
    const list = await user.api.get(`/api/v1/user/${user.id}/token`);

    // Assess
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^ty_[A-Za-z0-9_-]{20,}$/);
    expect(made.body).toMatchObject({ name: 'ci', scopes: ['read'], user_id: user.id });
    expect(list.status).toBe(200);
    expect(Number(list.headers.get('x-pagination-total'))).toBe(2);
    expect(list.body).toHaveLength(2);
    for (const token of list.body) expect(token).not.toHaveProperty('token');
    expect(list.text).not.toContain(made.body.token);
    expect(list.text).not.toContain(user.token);
    expect(list.body.map((t: { id: string }) => t.id)).toContain(made.body.id);
  });

  it('the new token works, and once revoked it answers 401', async () => {
    // Prepare
    const user = await newUser();
    const made = await user.api.post(`/api/v1/user/${user.id}/token`, { name: 'short-lived' });
    const second = client(made.body.token);
    expect((await second.get(`/api/v1/user/${user.id}`)).status).toBe(200);

    // Act
    const revoked = await user.api.delete(`/api/v1/user/${user.id}/token/${made.body.id}`);
    const after = await second.get(`/api/v1/user/${user.id}`);

    // Assess
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: made.body.id, name: 'short-lived' });
    expect(revoked.body).not.toHaveProperty('token');
    expect(after.status).toBe(401);
    expect(errorShapeOf(after.body).keys).toEqual(ERROR_KEYS);
    const list = await user.api.get(`/api/v1/user/${user.id}/token`);
    expect(list.body.map((t: { id: string }) => t.id)).not.toContain(made.body.id);
  });

  it('a read-only token cannot mint a token with write scope', async () => {
    // Prepare
    const user = await newUser({ scopes: ['read', 'write'] });
    const readOnly = await user.api.post(`/api/v1/user/${user.id}/token`, { name: 'ro', scopes: ['read'] });

    // Act
    const escalate = await client(readOnly.body.token).post(`/api/v1/user/${user.id}/token`, { name: 'rw' });

    // Assess
    expect(escalate.status).toBe(403);
  });

  it("a user's tokens page by cursor, newest first, each once", async () => {
    // Prepare
    const user = await newUser();
    for (const name of ['one', 'two', 'three', 'four']) {
      expect((await user.api.post(`/api/v1/user/${user.id}/token`, { name })).status).toBe(201);
    }

    // Act
    const tokens: { name: string; created_on: string }[] = [];
    let url: string | undefined = `/api/v1/user/${user.id}/token?size=2`;
    while (url) {
      const page: Reply = await user.api.get(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('x-pagination-total')).toBe('5');
      tokens.push(...page.body);
      const link = /<([^>]+)>;\s*rel="next"/.exec(page.headers.get('link') ?? '')?.[1];
      url = link;
    }

    // Assess
    expect(tokens.map((t) => t.name).sort()).toEqual(['four', 'one', 'test token', 'three', 'two']);
    const dates = tokens.map((t) => t.created_on);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it("revoking a token of another user's through one's own namespace is a 404", async () => {
    // Prepare
    const alice = await newUser();
    const bob = await newUser();
    const hers = await alice.api.post(`/api/v1/user/${alice.id}/token`, { name: 'hers' });

    // Act
    const viaBob = await bob.api.delete(`/api/v1/user/${bob.id}/token/${hers.body.id}`);
    const viaAlice = await bob.api.delete(`/api/v1/user/${alice.id}/token/${hers.body.id}`);

    // Assess
    expect(viaBob.status).toBe(404);
    expect(viaAlice.status).toBe(404);
    expect((await client(hers.body.token).get(`/api/v1/user/${alice.id}`)).status).toBe(200);
  });

  it("another user's tokens are not found", async () => {
    // Prepare
    const alice = await newUser();
    const bob = await newUser();

    // Act
    const list = await bob.api.get(`/api/v1/user/${alice.id}/token`);
    const mint = await bob.api.post(`/api/v1/user/${alice.id}/token`, { name: 'steal' });

    // Assess
    expect(list.status).toBe(404);
    expect(mint.status).toBe(404);
  });
});

describe('login (TAO)', () => {
  it('POST /api/v1/login with a valid api_key answers 201 with the user id and a bearer token that works', async () => {
    // Prepare
    const user = await newUser();

    // Act
    const login = await anonymous().post('/api/v1/login', { api_key: user.token }, { noContentType: true });

    // Assess
    expect(login.status).toBe(201);
    expect(login.body).toEqual({ user_id: user.id, token: expect.any(String) });
    const me = await client(login.body.token).get(`/api/v1/user/${login.body.user_id}`);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
  });

  it('a bad key is a 401 in the flat error shape', async () => {
    // Act
    const unknown = await anonymous().post('/api/v1/login', { api_key: `ty_${'x'.repeat(43)}` });
    const garbage = await anonymous().post('/api/v1/login', { api_key: 'not-a-token' });

    // Assess
    for (const reply of [unknown, garbage]) {
      expect(reply.status).toBe(401);
      expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
      expect(reply.body.error_code).toBe(401);
    }
  });
});

describe('health', () => {
  it('liveness and readiness answer 200 without a token', async () => {
    // Act
    const live = await anonymous().get('/api/v1/health/liveness');
    const ready = await anonymous().get('/api/v1/health/readiness');

    // Assess
    expect(live.status).toBe(200);
    expect(live.body.status).toBe('ok');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { table: 'ok' } });
  });
});
