import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Personal access tokens: `ty_` + 43 url-safe characters (256 random bits). Only the hash is stored. */
export const TOKEN_PREFIX = 'ty_';

export function newTokenSecret(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function looksLikeToken(secret: string): boolean {
  return /^ty_[A-Za-z0-9_-]{20,200}$/.test(secret);
}

/** What a token is shown as after creation: enough to recognise it, useless to an attacker. */
export function tokenDisplayPrefix(secret: string): string {
  return secret.slice(0, 8);
}

export const newId = (): string => randomUUID();
