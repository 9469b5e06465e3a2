import { describe, expect, it } from 'vitest';
import { type Caller, callerFromContext, requireAccess, requireNamespace } from '../../functions/core/caller';
import { Forbidden, NotFound, Unauthorized } from '../../functions/core/errors';

const USER_ID = '0b8e4b8e-6f57-4a43-9d0c-4b0f3c9b4a11';
const OTHER_ID = '7c1d0c57-2a31-4c7e-8d22-5d7a0b1f2e33';

const user = (scopes: string[] = ['read', 'write']): Caller => ({ userId: USER_ID, role: 'user', scopes, tokenId: 't1' });
const adminCaller: Caller = { userId: OTHER_ID, role: 'admin', scopes: [], tokenId: 't2' };

describe('callerFromContext', () => {
  it('turns an authenticated authorizer context into a caller, scopes split on commas', () => {
    expect(callerFromContext({ authenticated: true, userId: USER_ID, role: 'user', scopes: 'read,write', tokenId: 't1' })).toEqual(user());
  });

  it('an empty scope list is no scopes, not one empty scope', () => {
    expect(callerFromContext({ authenticated: true, userId: USER_ID, role: 'user', scopes: '', tokenId: 't1' })?.scopes).toEqual([]);
  });

  it.each([
    ['no context', undefined],
    ['an empty context (a public route)', {}],
    ['a refusal', { authenticated: false, reason: 'token expired' }],
    ['authenticated as a string', { authenticated: 'true', userId: USER_ID, role: 'user', scopes: 'read', tokenId: 't' }],
    ['no user id', { authenticated: true, role: 'user', scopes: 'read', tokenId: 't' }],
    ['an unknown role', { authenticated: true, userId: USER_ID, role: 'root', scopes: 'read', tokenId: 't' }],
    ['no token id', { authenticated: true, userId: USER_ID, role: 'admin', scopes: 'read' }],
  ])('%s is no caller', (_, context) => {
    expect(callerFromContext(context as Record<string, unknown> | undefined)).toBeUndefined();
  });
});

describe('requireAccess', () => {
  it('public routes let anyone through and keep the caller when there is one', () => {
    expect(requireAccess('public', undefined)).toBeUndefined();
    expect(requireAccess('public', user())).toEqual(user());
  });

  it.each(['read', 'write', 'admin'] as const)('a %s route without a caller is Unauthorized, with the refusal reason', (access) => {
    expect(() => requireAccess(access, undefined)).toThrow(Unauthorized);
    expect(() => requireAccess(access, undefined, 'token expired')).toThrow('token expired');
  });

  it('a token needs the scope the route asks for', () => {
    expect(requireAccess('read', user(['read']))).toEqual(user(['read']));
    expect(() => requireAccess('write', user(['read']))).toThrow(Forbidden);
    expect(() => requireAccess('read', user(['write']))).toThrow(Forbidden);
    expect(() => requireAccess('read', user([]))).toThrow(Forbidden);
  });

  it('admin routes are for admins only, whatever the scopes', () => {
    expect(() => requireAccess('admin', user(['read', 'write']))).toThrow(Forbidden);
    expect(requireAccess('admin', adminCaller)).toEqual(adminCaller);
  });

  it('an admin passes every access level', () => {
    for (const access of ['public', 'read', 'write', 'admin'] as const) expect(requireAccess(access, adminCaller)).toEqual(adminCaller);
  });
});

describe('requireNamespace', () => {
  it('a user reaches its own namespace; an admin reaches any', () => {
    expect(() => requireNamespace(user(), USER_ID)).not.toThrow();
    expect(() => requireNamespace(adminCaller, USER_ID)).not.toThrow();
  });

  it("another user's namespace is NotFound, never Forbidden (no existence leaks)", () => {
    expect(() => requireNamespace(user(), OTHER_ID)).toThrow(NotFound);
  });
});
