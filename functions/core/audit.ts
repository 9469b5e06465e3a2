import { type Caller, requireNamespace } from './caller';
import { putItem } from './dynamo';
import { type AuditRecord, auditByNamespace, auditItem } from './entities/audit';
import { type Page, type PageRequest, readPage } from './pagination';

/** The platform-wide namespace: changes that belong to no user's namespace (e.g. creating a user). */
export const PLATFORM = 'platform';

export interface AuditEntry {
  at: string;
  actor_id: string;
  action: string;
  method: string;
  path: string;
  resource_id?: string;
  request_id: string;
}

/**
 * Write one entry of the audit log (DESIGN.md, Security). Called by the HTTP stack after every change
 * that succeeded; never holds secrets (no bodies, no headers).
 */
export async function recordChange(entry: AuditRecord): Promise<void> {
  await putItem(auditItem(entry));
}

/**
 * The changes made in a namespace, newest first: the user itself or an admin may read them.
 * Expired entries (past their TTL, not yet removed by DynamoDB) are filtered out.
 */
export async function listChanges(caller: Caller, namespace: string, request: PageRequest): Promise<Page<AuditEntry>> {
  requireNamespace(caller, namespace);
  const base = auditByNamespace(namespace);
  const page = await readPage(
    { ...base, FilterExpression: '#ttl > :now', ExpressionAttributeNames: { '#ttl': 'ttl' }, ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ':now': Math.floor(Date.now() / 1000) } },
    request,
    { callerId: caller.userId, query: { ns: namespace, kind: 'audit' } },
  );
  return {
    ...page,
    items: (page.items as unknown as AuditRecord[]).map((r) => ({
      at: r.at,
      actor_id: r.actorId,
      action: r.action,
      method: r.method,
      path: r.path,
      ...(r.resourceId ? { resource_id: r.resourceId } : {}),
      request_id: r.requestId,
    })),
  };
}
