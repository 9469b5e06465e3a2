import * as z from 'zod';
import { Id, Timestamp } from './common';

export const SCOPES = ['read', 'write'] as const;
export const Scope = z.enum(SCOPES);

export const UserCreate = z.strictObject({
  email: z.email().max(320),
  name: z.string().trim().min(1).max(200),
});

export const User = z
  .object({
    id: Id,
    email: z.string(),
    name: z.string(),
    role: z.enum(['admin', 'user']),
    revision: z.number().int(),
    created_on: Timestamp,
    last_modified: Timestamp,
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof User>;

export const TokenCreate = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(Scope).min(1).max(SCOPES.length).optional().describe('Defaults to read and write'),
  expires_in_days: z.number().int().min(1).max(365).optional().describe('Defaults to 90'),
});

export const Token = z
  .object({
    id: Id,
    user_id: Id,
    name: z.string(),
    scopes: z.array(Scope),
    prefix: z.string().describe('The first characters of the secret, to recognise it'),
    created_on: Timestamp,
    expires_on: Timestamp,
  })
  .meta({ id: 'Token' });

export const TokenCreated = Token.extend({
  token: z.string().describe('The secret. Shown only in this response.'),
}).meta({ id: 'TokenCreated' });

export const TokenPathParams = z.object({ user_id: Id, token_id: Id });

export const LoginRequest = z.strictObject({ api_key: z.string().min(1).max(512) });
export const LoginResponse = z.object({ user_id: Id, token: z.string() });

export const Health = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()).optional() });
