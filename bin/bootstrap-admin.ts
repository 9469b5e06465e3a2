import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

/**
 * Creates the first admin of a deployed Trainyard and prints a new admin token once.
 * Run with AWS credentials that may write the table:
 *   npm run bootstrap-admin -- --table <TableName output of TrainyardData>
 * Running it again adds another admin token (the old ones keep working until revoked).
 */
const { values } = parseArgs({ options: { table: { type: 'string' }, region: { type: 'string' } } });
if (!values.table) {
  console.error('usage: npm run bootstrap-admin -- --table <TableName> [--region <region>]');
  process.exit(2);
}
Object.assign(process.env, {
  TRAINYARD_TABLE: values.table,
  // This script touches only the table; the bucket setting is required by the shared config loader.
  TRAINYARD_BUCKET: 'not-used-by-bootstrap',
  ...(values.region ? { AWS_REGION: values.region } : {}),
});
const { ensureBootstrapAdmin } = await import('../functions/core/identity');
const token = `ty_${randomBytes(32).toString('base64url')}`;
const { userId } = await ensureBootstrapAdmin(token);
console.log(`admin user id: ${userId}`);
console.log(`admin token (shown once, store it safely): ${token}`);
