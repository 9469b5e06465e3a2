import { Entity } from 'electrodb';
import { SERVICE, entityOptions, lazy } from './service';

/**
 * A dataset: metadata only (its files live in S3 under u/{ownerId}/dataset/{id}/).
 * Named access patterns: byId (get), byOwnerDate (lists sorted by date), byOwnerName (lists sorted by name).
 */
export const datasetEntity = lazy(() =>
  new Entity(
    {
      model: { entity: 'dataset', version: '1', service: SERVICE },
      attributes: {
        id: { type: 'string', required: true, readOnly: true },
        ownerId: { type: 'string', required: true, readOnly: true },
        name: { type: 'string', required: true },
        /** Lower-cased name: the sort key of name-ordered lists. */
        nameKey: { type: 'string', required: true },
        description: { type: 'string', required: true },
        type: { type: 'string', required: true },
        format: { type: 'string', required: true },
        /** The user's own version label (TAO's `version`, e.g. "1.0.0"); not the concurrency revision. */
        version: { type: 'string', required: true },
        logo: { type: 'string', required: true },
        tags: { type: 'list', items: { type: 'string' }, required: true },
        /** Optimistic-concurrency counter, served as the ETag. */
        revision: { type: 'number', required: true },
        createdOn: { type: 'string', required: true, readOnly: true },
        lastModified: { type: 'string', required: true },
      },
      indexes: {
        byId: {
          pk: { field: 'pk', composite: ['id'], template: 'dataset#${id}' },
          sk: { field: 'sk', composite: [], template: 'dataset' },
        },
        byOwnerDate: {
          index: 'gsi1',
          pk: { field: 'gsi1pk', composite: ['ownerId'], template: 'user#${ownerId}#dataset' },
          sk: { field: 'gsi1sk', composite: ['createdOn', 'id'] },
        },
        byOwnerName: {
          index: 'gsi2',
          pk: { field: 'gsi2pk', composite: ['ownerId'], template: 'user#${ownerId}#dataset' },
          // nameKey alone, last: a separator after it would sort "cats v2" and "cats!" before "cats"
          // (' ' and '!' sort below '#'). Index keys need not be unique: LastEvaluatedKey carries the table key.
          sk: { field: 'gsi2sk', composite: ['nameKey'] },
        },
      },
    },
    entityOptions(),
  ),
);
export type DatasetEntity = ReturnType<typeof datasetEntity>;
