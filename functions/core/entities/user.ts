import { Entity } from 'electrodb';
import { SERVICE, entityOptions, lazy } from './service';

/** A person or service account. `role` admin may act on every namespace. */
export const userEntity = lazy(() =>
  new Entity(
    {
      model: { entity: 'user', version: '1', service: SERVICE },
      attributes: {
        id: { type: 'string', required: true, readOnly: true },
        email: { type: 'string', required: true },
        name: { type: 'string', required: true },
        role: { type: ['admin', 'user'] as const, required: true },
        revision: { type: 'number', required: true },
        createdOn: { type: 'string', required: true, readOnly: true },
        lastModified: { type: 'string', required: true },
      },
      indexes: {
        byId: {
          pk: { field: 'pk', composite: ['id'], template: 'user#${id}' },
          sk: { field: 'sk', composite: [], template: 'user' },
        },
        byEmail: {
          index: 'gsi1',
          pk: { field: 'gsi1pk', composite: ['email'], template: 'email#${email}' },
          sk: { field: 'gsi1sk', composite: [], template: 'user' },
        },
        /** All users, newest first: one partition, fine for the handful of users a team has. */
        all: {
          index: 'gsi2',
          pk: { field: 'gsi2pk', composite: [], template: 'users' },
          sk: { field: 'gsi2sk', composite: ['createdOn', 'id'] },
        },
      },
    },
    entityOptions(),
  ),
);
export type UserEntity = ReturnType<typeof userEntity>;
