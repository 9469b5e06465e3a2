/**
 * The one DynamoDB table, as data: CDK builds it from this, the local runtime creates it in dynalite
 * from this, and the entities below name its attributes. Nothing else spells out key attributes.
 *
 * Key scheme (ElectroDB lowercases composite values; `…` is ElectroDB's own prefix):
 *
 * | entity      | pk                      | sk          | gsi1pk (gsi1sk)                        | gsi2pk (gsi2sk)                      |
 * |-------------|-------------------------|-------------|----------------------------------------|--------------------------------------|
 * | user        | user#{id}               | user        | email#{email} (user)                   | users (created, id)                  |
 * | token       | token#{sha256(secret)}  | token       | user#{userId}#token (created, id)      |                                      |
 * | dataset     | dataset#{id}            | dataset     | user#{ownerId}#dataset (created, id)   | user#{ownerId}#dataset (name)        |
 * | bootstrap   | bootstrap#admin         | bootstrap   |                                        |                                      |
 * | idempotency | idempotency             | {hash}      |   (written by Powertools idempotency)  |                                      |
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
