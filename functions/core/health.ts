import { getItem } from './dynamo';
import { DomainError } from './errors';

/** Liveness needs nothing; readiness proves the table answers (one consistent-free point read). */
export async function liveness() {
  return { status: 'ok' as const };
}

export async function readiness() {
  try {
    await getItem({ pk: 'health', sk: 'health' });
    return { status: 'ok' as const, checks: { table: 'ok' } };
  } catch {
    throw new DomainError('internal', 'the table does not answer');
  }
}
