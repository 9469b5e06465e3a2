import type { QueryInput } from '../dynamo';

/** A person or service account. `role` admin may act on every namespace. */
export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'user';
  revision: number;
  createdOn: string;
  lastModified: string;
}

export const userKey = (id: string) => ({ pk: `user#${id}`, sk: 'user' });

export function userItem(user: UserRecord) {
  return {
    ...userKey(user.id),
    entity: 'user',
    gsi1pk: `email#${user.email}`,
    gsi1sk: 'user',
    gsi2pk: 'users',
    gsi2sk: `${user.createdOn}#${user.id}`,
    ...user,
  };
}

/** byEmail: the user with this (lower-cased) email, if any. */
export const usersByEmail = (email: string): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': `email#${email}` },
});

/** all: every user, newest first. One partition: fine for the handful of users a team has. */
export const allUsers = (): QueryInput => ({
  IndexName: 'gsi2',
  KeyConditionExpression: 'gsi2pk = :pk',
  ExpressionAttributeValues: { ':pk': 'users' },
  ScanIndexForward: false,
});
