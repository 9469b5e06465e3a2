import { Entity } from 'electrodb';
import { SERVICE, entityOptions, lazy } from './service';

/** A personal access token, stored only as the SHA-256 hash of its secret. */
export const tokenEntity = lazy(() =>
  new Entity(
    {
      model: { entity: 'token', version: '1', service: SERVICE },
      attributes: {
        hash: { type: 'string', required: true, readOnly: true },
        id: { type: 'string', required: true, readOnly: true },
        userId: { type: 'string', required: true, readOnly: true },
        name: { type: 'string', required: true },
        scopes: { type: 'list', items: { type: 'string' }, required: true },
        prefix: { type: 'string', required: true },
        createdOn: { type: 'string', required: true, readOnly: true },
        expiresOn: { type: 'string', required: true },
      },
      indexes: {
        byHash: {
          pk: { field: 'pk', composite: ['hash'], template: 'token#${hash}' },
          sk: { field: 'sk', composite: [], template: 'token' },
        },
        byUser: {
          index: 'gsi1',
          pk: { field: 'gsi1pk', composite: ['userId'], template: 'user#${userId}#token' },
          sk: { field: 'gsi1sk', composite: ['createdOn', 'id'] },
        },
      },
    },
    entityOptions(),
  ),
);
