import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from './clients';
import { config } from './config';
import { DomainError } from './errors';

/** Liveness needs nothing; readiness proves the table answers (one consistent-free point read). */
export async function liveness() {
  return { status: 'ok' as const };
}

export async function readiness() {
  try {
    await dynamo().send(new GetCommand({ TableName: config().tableName, Key: { pk: 'health', sk: 'health' } }));
    return { status: 'ok' as const, checks: { table: 'ok' } };
  } catch {
    throw new DomainError('internal', 'the table does not answer');
  }
}
