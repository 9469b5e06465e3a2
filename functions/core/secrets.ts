import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from './config';

let cursorKey: Promise<string> | undefined;

/**
 * The key that signs pagination cursors. Locally it is given in the environment; in AWS it is read from
 * Secrets Manager on first use (not at cold start: only list routes need it) and kept for the process.
 */
export function cursorSigningKey(): Promise<string> {
  cursorKey ??= (async () => {
    const { cursorSecret, cursorSecretArn, region } = config();
    if (cursorSecret) return cursorSecret;
    const client = new SecretsManagerClient({ region });
    const out = await client.send(new GetSecretValueCommand({ SecretId: cursorSecretArn }));
    if (!out.SecretString) throw new Error('the cursor signing secret is empty');
    return out.SecretString;
  })();
  cursorKey.catch(() => (cursorKey = undefined));
  return cursorKey;
}
