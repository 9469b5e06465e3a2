/**
 * The one DynamoDB table, as data: CDK builds it from this, the local runtime creates it in dynalite
 * from this, and the entity modules beside this file build every key. Nothing else spells out keys.
 *
 * Key scheme:
 *
 * | entity      | pk                      | sk          | gsi1pk (gsi1sk)                          | gsi2pk (gsi2sk)                         |
 * |-------------|-------------------------|-------------|------------------------------------------|-----------------------------------------|
 * | user        | user#{id}               | user        | email#{email} (user)                     | users ({createdOn}#{id})                |
 * | token       | token#{sha256(secret)}  | token       | user#{userId}#token ({createdOn}#{id})   |                                         |
 * | dataset     | dataset#{id}            | dataset     | user#{ownerId}#dataset ({createdOn}#{id})| user#{ownerId}#dataset ({nameKey})      |
 * | model       | model#{id}              | model       | user#{ownerId}#model ({createdOn}#{id})  | user#{ownerId}#model ({nameKey})        |
 * | modelref    | dataset#{datasetId}#model | {modelId} |                                          |                                         |
 * | upload      | upload#{id}             | upload      | dataset#{datasetId}#upload ({createdOn}#{id}) |                                    |
 * | purge       | purge#{datasetId}       | purge       | purge ({requestedOn}#{datasetId})        |                                         |
 * | counter     | counter#user#{ownerId}#dataset | counter |                                     |                                         |
 * | counter     | counter#user#{ownerId}#model | counter |                                       |                                         |
 * | bootstrap   | bootstrap#admin         | bootstrap   |                                          |                                         |
 * | idempotency | idempotency#{sha256}    | idempotency |                                          |                                         |
 * | audit       | audit#{namespace}       | {at}#{requestId} |                                     |                                         |
 *
 * The name index's sort key is the lower-cased name alone: any separator after it would sort
 * "cats v2" before "cats". Ties are fine: a cursor carries the table key too.
 * Datasets and models share one scheme (entities/owned.ts). A modelref row says a model may use a
 * dataset: a dataset DELETE reads them (one consistent query) to refuse while a model uses it.
 * Every item carries `entity` (its kind) and, where it expires, `ttl` (epoch seconds).
 */
export const tableLayout = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  globalIndexes: [
    { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { indexName: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  ],
} as const;

export type IndexName = (typeof tableLayout.globalIndexes)[number]['indexName'];

/** The attributes that position an item in a query over `index` (table key + index key). */
export function positionAttributes(index?: IndexName): string[] {
  const table = [tableLayout.partitionKey, tableLayout.sortKey];
  const gsi = tableLayout.globalIndexes.find((g) => g.indexName === index);
  return gsi ? [...table, gsi.partitionKey, gsi.sortKey] : table;
}
