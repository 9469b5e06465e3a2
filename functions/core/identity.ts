import { type AuthorizerContext, type Caller, requireNamespace } from './caller';
import { deleteItem, getItem, isConditionalCheckFailure, putItem, query } from './dynamo';
import { type TokenRecord, tokenItem, tokenKey, tokensByUser } from './entities/token';
import { allUsers, type UserRecord, userItem, userKey, usersByEmail } from './entities/user';
import { Conflict, Forbidden, NotFound, Unauthorized } from './errors';
import { type Page, readPage } from './pagination';
import type { User } from './schemas/identity';
import { SCOPES } from './schemas/identity';
import { hashToken, looksLikeToken, newId, newTokenSecret, tokenDisplayPrefix } from './tokens';

const DEFAULT_TOKEN_DAYS = 90;
/** The bootstrap admin's token lives as long as the deployment; rotate it with TRAINYARD_ADMIN_TOKEN. */
const NEVER = '9999-12-31T23:59:59.999Z';
const BOOTSTRAP_KEY = { pk: 'bootstrap#admin', sk: 'bootstrap' };

function toUser(r: UserRecord): User {
  return { id: r.id, email: r.email, name: r.name, role: r.role, revision: r.revision, created_on: r.createdOn, last_modified: r.lastModified };
}

function toToken(r: TokenRecord) {
  return {
    id: r.id,
    user_id: r.userId,
    name: r.name,
    scopes: r.scopes as (typeof SCOPES)[number][],
    prefix: r.prefix,
    created_on: r.createdOn,
    expires_on: r.expiresOn,
  };
}

export async function assertUserExists(userId: string): Promise<UserRecord> {
  const user = (await getItem(userKey(userId))) as UserRecord | undefined;
  if (!user) throw new NotFound('user');
  return user;
}

/**
 * Resolve an `Authorization` header to a caller, or to the reason it is refused.
 * Used by the Lambda authorizer (AWS) and the local server alike; never throws for bad input.
 */
export async function authenticate(authorization: string | undefined): Promise<AuthorizerContext> {
  if (!authorization) return { authenticated: false, reason: 'missing bearer token' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) return { authenticated: false, reason: 'the Authorization header must be "Bearer <token>"' };
  return authenticateSecret(match[1]);
}

/**
 * Recently verified tokens, per process, for a few seconds: most requests then cost no table read to
 * authenticate (API Gateway's own authorizer cache would do the same, for longer, but it is off so that
 * refusals keep the flat error shape). A revocation reaches other instances within this time; the
 * instance that revokes forgets at once. Expiry is checked on every use.
 */
const VERIFIED_TTL_MS = 10_000;
const VERIFIED_MAX = 1_000;
type Verified = { context: AuthorizerContext & { authenticated: true }; expiresOn: string };
const verified = new Map<string, Verified & { until: number }>();

function forgetToken(hash: string): void {
  verified.delete(hash);
}

async function authenticateSecret(secret: string): Promise<AuthorizerContext> {
  if (!looksLikeToken(secret)) return { authenticated: false, reason: 'unknown or malformed token' };
  const hash = hashToken(secret);
  const now = Date.now();
  const cached = verified.get(hash);
  let known: Verified;
  if (cached && cached.until > now) known = cached;
  else {
    const looked = await lookUpToken(hash);
    if ('reason' in looked) {
      forgetToken(hash);
      return looked;
    }
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(hash, { ...looked, until: now + VERIFIED_TTL_MS });
    known = looked;
  }
  return known.expiresOn <= new Date(now).toISOString() ? { authenticated: false, reason: 'token expired' } : known.context;
}

async function lookUpToken(hash: string): Promise<Verified | { authenticated: false; reason: string }> {
  const token = (await getItem(tokenKey(hash))) as TokenRecord | undefined;
  if (!token) return { authenticated: false, reason: 'unknown or malformed token' };
  const user = (await getItem(userKey(token.userId))) as UserRecord | undefined;
  if (!user) return { authenticated: false, reason: 'the token owner no longer exists' };
  return {
    context: { authenticated: true, userId: user.id, role: user.role, scopes: token.scopes.join(','), tokenId: token.id },
    expiresOn: token.expiresOn,
  };
}

/**
 * TAO's login: the client sends its key, learns its user id and the bearer token to send.
 * A personal access token is already a bearer token, so it is handed back as it is.
 */
export async function login(apiKey: string): Promise<{ user_id: string; token: string }> {
  const result = await authenticateSecret(apiKey);
  if (!result.authenticated) throw new Unauthorized(`login refused: ${result.reason}`);
  return { user_id: result.userId, token: apiKey };
}

/** Create a user (admins only; the route enforces it). A second user with the same email is a 409. */
export async function createUser(input: { email: string; name: string }, role: 'admin' | 'user' = 'user'): Promise<User> {
  const email = input.email.toLowerCase();
  // A read-then-write check: two simultaneous creates with one email could both pass (admins only, rare).
  const existing = await query({ ...usersByEmail(email), Limit: 1 });
  if (existing.items.length > 0) throw new Conflict(`a user with email ${email} exists`);
  const now = new Date().toISOString();
  const user: UserRecord = { id: newId(), email, name: input.name, role, revision: 1, createdOn: now, lastModified: now };
  await putItem(userItem(user), { ConditionExpression: 'attribute_not_exists(pk)' });
  return toUser(user);
}

export async function getUser(caller: Caller, userId: string): Promise<User> {
  requireNamespace(caller, userId);
  return toUser(await assertUserExists(userId));
}

/** List all users, newest first (admins only; the route enforces it). */
export async function listUsers(caller: Caller, request: { size: number; skip: number; cursor?: string }): Promise<Page<User>> {
  const page = await readPage(
    allUsers(),
    request,
    { callerId: caller.userId, query: { kind: 'user' } },
  );
  return { ...page, items: (page.items as unknown as UserRecord[]).map(toUser) };
}

/**
 * Create a personal access token for a user (the user or an admin). The secret is returned once;
 * only its SHA-256 hash is stored. A token cannot carry scopes its creator's token lacks.
 */
export async function createToken(
  caller: Caller,
  userId: string,
  input: { name: string; scopes?: string[]; expires_in_days?: number },
) {
  requireNamespace(caller, userId);
  await assertUserExists(userId);
  const scopes = [...new Set(input.scopes ?? [...SCOPES])];
  if (caller.role !== 'admin') {
    const missing = scopes.filter((s) => !caller.scopes.includes(s));
    if (missing.length) throw new Forbidden(`cannot grant scopes the calling token lacks: ${missing.join(', ')}`);
  }
  const secret = newTokenSecret();
  const now = new Date();
  const expiresOn = new Date(now.getTime() + (input.expires_in_days ?? DEFAULT_TOKEN_DAYS) * 86_400_000).toISOString();
  const token: TokenRecord = { hash: hashToken(secret), id: newId(), userId, name: input.name, scopes, prefix: tokenDisplayPrefix(secret), createdOn: now.toISOString(), expiresOn };
  await putItem(tokenItem(token), { ConditionExpression: 'attribute_not_exists(pk)' });
  return { ...toToken(token), token: secret };
}

export async function listTokens(caller: Caller, userId: string, request: { size: number; skip: number; cursor?: string }) {
  requireNamespace(caller, userId);
  const page = await readPage(
    tokensByUser(userId),
    request,
    { callerId: caller.userId, query: { ns: userId, kind: 'token' } },
  );
  return { ...page, items: (page.items as unknown as TokenRecord[]).map(toToken) };
}

/** Revoke a token by id. */
export async function deleteToken(caller: Caller, userId: string, tokenId: string) {
  requireNamespace(caller, userId);
  const token = await findToken(userId, tokenId);
  if (!token) throw new NotFound('token');
  await deleteItem(tokenKey(token.hash));
  forgetToken(token.hash);
  return toToken(token);
}

async function findToken(userId: string, tokenId: string): Promise<TokenRecord | undefined> {
  const byUser = tokensByUser(userId);
  let start: Record<string, unknown> | undefined;
  do {
    const out = await query({
      ...byUser,
      FilterExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': 'id' },
      ExpressionAttributeValues: { ...byUser.ExpressionAttributeValues, ':id': tokenId },
      ExclusiveStartKey: start,
    });
    if (out.items[0]) return out.items[0] as unknown as TokenRecord;
    start = out.lastKey;
  } while (start);
  return undefined;
}

/**
 * Make sure the bootstrap admin exists and that `secret` is one of its tokens. Idempotent: the local
 * runtime calls it on every start (and an operator script can call it against a deployed table).
 */
export async function ensureBootstrapAdmin(secret: string): Promise<{ userId: string }> {
  if (!looksLikeToken(secret)) throw new Error('the admin token must look like ty_ followed by at least 20 url-safe characters');
  let userId = (await getItem(BOOTSTRAP_KEY, true))?.userId as string | undefined;
  if (!userId) {
    const admin = await createUser({ email: 'admin@trainyard.local', name: 'Administrator' }, 'admin').catch(async (error) => {
      if (!(error instanceof Conflict)) throw error;
      const existing = await query(usersByEmail('admin@trainyard.local'));
      return toUser(existing.items[0] as unknown as UserRecord);
    });
    userId = admin.id;
    await putItem({ ...BOOTSTRAP_KEY, entity: 'bootstrap', userId });
  }
  const hash = hashToken(secret);
  const token: TokenRecord = { hash, id: newId(), userId, name: 'bootstrap admin', scopes: [...SCOPES], prefix: tokenDisplayPrefix(secret), createdOn: new Date().toISOString(), expiresOn: NEVER };
  await putItem(tokenItem(token), { ConditionExpression: 'attribute_not_exists(pk)' }).catch((error) => {
    if (!isConditionalCheckFailure(error)) throw error; // already one of the admin's tokens
  });
  return { userId };
}
