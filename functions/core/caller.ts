import type { Access } from '../routes';
import { Forbidden, NotFound, Unauthorized } from './errors';

/** Who is calling, as the authorizer established it. */
export interface Caller {
  userId: string;
  role: 'admin' | 'user';
  scopes: string[];
  tokenId: string;
}

/**
 * What the authorizer hands to the handlers in `requestContext.authorizer.lambda`. API Gateway only
 * carries string, number and boolean values there, so scopes travel comma-joined.
 */
export type AuthorizerContext =
  | { authenticated: true; userId: string; role: 'admin' | 'user'; scopes: string; tokenId: string }
  | { authenticated: false; reason: string };

export function callerFromContext(context: Partial<Record<string, unknown>> | undefined): Caller | undefined {
  if (!context || context.authenticated !== true) return undefined;
  const { userId, role, scopes, tokenId } = context;
  if (typeof userId !== 'string' || (role !== 'admin' && role !== 'user') || typeof tokenId !== 'string') return undefined;
  return { userId, role, tokenId, scopes: typeof scopes === 'string' && scopes ? scopes.split(',') : [] };
}

/** The route's access level against the caller's token: no caller is 401, a missing scope is 403. */
export function requireAccess(access: Access, caller: Caller | undefined, refusal?: string): Caller | undefined {
  if (access === 'public') return caller;
  if (!caller) throw new Unauthorized(refusal);
  if (access === 'admin') {
    if (caller.role !== 'admin') throw new Forbidden('this route is for administrators');
    return caller;
  }
  if (caller.role !== 'admin' && !caller.scopes.includes(access)) {
    throw new Forbidden(`this token lacks the '${access}' scope`);
  }
  return caller;
}

/**
 * May the caller reach `/user/{ownerId}/…`? Its own namespace, or any as an admin. Everything else
 * answers 404, so a caller learns nothing about who exists. (Grants on single resources come later.)
 */
export function requireNamespace(caller: Caller, ownerId: string): void {
  if (caller.userId === ownerId || caller.role === 'admin') return;
  throw new NotFound('user');
}
