import type { QueryInput } from '../dynamo';

/** One change, as the audit log keeps it: who did what to which resource, when, in which request. */
export interface AuditRecord {
  namespace: string;
  at: string;
  requestId: string;
  actorId: string;
  action: string;
  method: string;
  path: string;
  resourceId?: string;
}

/** Kept for about 13 months, then DynamoDB's TTL removes it. */
const RETENTION_S = 400 * 86_400;

export function auditItem(entry: AuditRecord) {
  return {
    pk: `audit#${entry.namespace}`,
    sk: `${entry.at}#${entry.requestId}`,
    entity: 'audit',
    ttl: Math.floor(Date.parse(entry.at) / 1000) + RETENTION_S,
    ...entry,
  };
}

/** byNamespace: the changes made in a user's namespace (or `platform`), newest first. */
export const auditByNamespace = (namespace: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': `audit#${namespace}` },
  ScanIndexForward: false,
});
