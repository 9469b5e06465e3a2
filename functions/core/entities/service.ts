import { config } from '../config';
import { dynamo } from '../clients';

/** What every ElectroDB entity of Trainyard is built with: the one table and the one client. */
export function entityOptions() {
  return { table: config().tableName, client: dynamo() };
}

export const SERVICE = 'trainyard';

/** Builds a value on first use and keeps it for the life of the process (entities need config). */
export function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
