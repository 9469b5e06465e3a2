import { listChanges } from '../core/audit';
import { createToken, createUser, deleteToken, getUser, listTokens, listUsers, login } from '../core/identity';
import { httpHandler } from './http';

/** Users, personal access tokens and TAO's login. */
export const handler = httpHandler('identity', {
  login: ({ body }) => login(body.api_key),
  createUser: ({ body }) => createUser(body),
  listUsers: ({ caller, query }) => listUsers(caller, query),
  getUser: ({ caller, params }) => getUser(caller, params.user_id),
  createToken: ({ caller, params, body }) => createToken(caller, params.user_id, body),
  listTokens: ({ caller, params, query }) => listTokens(caller, params.user_id, query),
  deleteToken: ({ caller, params }) => deleteToken(caller, params.user_id, params.token_id),
  listAudit: ({ caller, params, query }) => listChanges(caller, params.user_id, query),
});
