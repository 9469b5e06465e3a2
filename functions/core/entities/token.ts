import type { QueryInput } from '../dynamo';

/** A personal access token, stored only as the SHA-256 hash of its secret. */
export interface TokenRecord {
  hash: string;
  id: string;
  userId: string;
  name: string;
  scopes: string[];
  prefix: string;
  createdOn: string;
  expiresOn: string;
}

export const tokenKey = (hash: string) => ({ pk: `token#${hash}`, sk: 'token' });

export function tokenItem(token: TokenRecord) {
  return { ...tokenKey(token.hash), entity: 'token', gsi1pk: `user#${token.userId}#token`, gsi1sk: `${token.createdOn}#${token.id}`, ...token };
}

/** byUser: a user's tokens, newest first. */
export const tokensByUser = (userId: string): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': `user#${userId}#token` },
  ScanIndexForward: false,
});
