import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { EntityItem } from 'electrodb';
import { type AuthorizerContext, type Caller, requireNamespace } from './caller';
import { dynamo } from './clients';
import { config } from './config';
import { tokenEntity } from './entities/token';
import { userEntity, type UserEntity } from './entities/user';
import { Conflict, Forbidden, NotFound, Unauthorized } from './errors';
import { type Page, readPage } from './pagination';
import type { User } from './schemas/identity';
import { SCOPES } from './schemas/identity';
import { hashToken, looksLikeToken, newId, newTokenSecret, tokenDisplayPrefix } from './tokens';

type UserRecord = EntityItem<UserEntity>;
type TokenRecord = EntityItem<ReturnType<typeof tokenEntity>>;

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
  const out = await userEntity().get({ id: userId }).go();
  if (!out.data) throw new NotFound('user');
  return out.data;
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

async function authenticateSecret(secret: string): Promise<AuthorizerContext> {
  if (!looksLikeToken(secret)) return { authenticated: false, reason: 'unknown or malformed token' };
  const token = (await tokenEntity().get({ hash: hashToken(secret) }).go()).data;
  if (!token) return { authenticated: false, reason: 'unknown or malformed token' };
  if (token.expiresOn <= new Date().toISOString()) return { authenticated: false, reason: 'token expired' };
  const user = (await userEntity().get({ id: token.userId }).go()).data;
  if (!user) return { authenticated: false, reason: 'the token owner no longer exists' };
  return { authenticated: true, userId: user.id, role: user.role, scopes: token.scopes.join(','), tokenId: token.id };
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
  const existing = await userEntity().query.byEmail({ email }).go({ limit: 1 });
  if (existing.data.length > 0) throw new Conflict(`a user with email ${email} exists`);
  const now = new Date().toISOString();
  const out = await userEntity()
    .create({ id: newId(), email, name: input.name, role, revision: 1, createdOn: now, lastModified: now })
    .go();
  return toUser(out.data);
}

export async function getUser(caller: Caller, userId: string): Promise<User> {
  requireNamespace(caller, userId);
  return toUser(await assertUserExists(userId));
}

/** List all users, newest first (admins only; the route enforces it). */
export async function listUsers(caller: Caller, request: { size: number; skip: number; cursor?: string }): Promise<Page<User>> {
  const page = await readPage(
    { params: userEntity().query.all({}).params({ order: 'desc' }), keyAttributes: ['pk', 'sk', 'gsi2pk', 'gsi2sk'], filtered: false },
    request,
    { callerId: caller.userId, query: { kind: 'user' } },
  );
  return { ...page, items: (userEntity().parse({ Items: page.items }).data as UserRecord[]).map(toUser) };
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
  const out = await tokenEntity()
    .create({ hash: hashToken(secret), id: newId(), userId, name: input.name, scopes, prefix: tokenDisplayPrefix(secret), createdOn: now.toISOString(), expiresOn })
    .go();
  return { ...toToken(out.data), token: secret };
}

export async function listTokens(caller: Caller, userId: string, request: { size: number; skip: number; cursor?: string }) {
  requireNamespace(caller, userId);
  const page = await readPage(
    { params: tokenEntity().query.byUser({ userId }).params({ order: 'desc' }), keyAttributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'], filtered: false },
    request,
    { callerId: caller.userId, query: { ns: userId, kind: 'token' } },
  );
  return { ...page, items: (tokenEntity().parse({ Items: page.items }).data as TokenRecord[]).map(toToken) };
}

/** Revoke a token by id. */
export async function deleteToken(caller: Caller, userId: string, tokenId: string) {
  requireNamespace(caller, userId);
  const owned = await tokenEntity().query.byUser({ userId }).where((attr, op) => op.eq(attr.id, tokenId)).go({ pages: 'all' });
  const token = owned.data[0];
  if (!token) throw new NotFound('token');
  await tokenEntity().delete({ hash: token.hash }).go();
  return toToken(token);
}

/**
 * Make sure the bootstrap admin exists and that `secret` is one of its tokens. Idempotent: the local
 * runtime calls it on every start (and an operator script can call it against a deployed table).
 */
export async function ensureBootstrapAdmin(secret: string): Promise<{ userId: string }> {
  if (!looksLikeToken(secret)) throw new Error('the admin token must look like ty_ followed by at least 20 url-safe characters');
  const { tableName } = config();
  const found = await dynamo().send(new GetCommand({ TableName: tableName, Key: BOOTSTRAP_KEY }));
  let userId = found.Item?.userId as string | undefined;
  if (!userId) {
    const admin = await createUser({ email: 'admin@trainyard.local', name: 'Administrator' }, 'admin').catch(async (error) => {
      if (!(error instanceof Conflict)) throw error;
      const existing = await userEntity().query.byEmail({ email: 'admin@trainyard.local' }).go();
      return toUser(existing.data[0]!);
    });
    userId = admin.id;
    await dynamo().send(new PutCommand({ TableName: tableName, Item: { ...BOOTSTRAP_KEY, userId } }));
  }
  const hash = hashToken(secret);
  if (!(await tokenEntity().get({ hash }).go()).data) {
    await tokenEntity()
      .create({ hash, id: newId(), userId, name: 'bootstrap admin', scopes: [...SCOPES], prefix: tokenDisplayPrefix(secret), createdOn: new Date().toISOString(), expiresOn: NEVER })
      .go();
  }
  return { userId };
}
