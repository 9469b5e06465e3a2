import { config } from './config';
import { sendSigned } from './signed-http';

let cursorKey: Promise<string> | undefined;

/**
 * The key that signs pagination cursors. Locally it is given in the environment; in AWS it is read from
 * Secrets Manager on first use (not at cold start: only list routes need it) and kept for the process.
 * Spoken as signed JSON over HTTPS for the same reason as the DynamoDB adapter (dynamo.ts): bundle size.
 */
export function cursorSigningKey(): Promise<string> {
  cursorKey ??= (async () => {
    const { cursorSecret, cursorSecretArn, region } = config();
    if (cursorSecret) return cursorSecret;
    if (!cursorSecretArn) throw new Error('Trainyard configuration needs TRAINYARD_CURSOR_SECRET or TRAINYARD_CURSOR_SECRET_ARN to sign cursors');
    const response = await sendSigned({
      url: `https://secretsmanager.${region}.amazonaws.com/`,
      service: 'secretsmanager',
      region,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' },
      body: JSON.stringify({ SecretId: cursorSecretArn }),
    });
    const body = JSON.parse(response.body || '{}') as { SecretString?: string };
    if (response.status >= 300 || !body.SecretString) throw new Error(`the cursor signing secret could not be read (${response.status})`);
    return body.SecretString;
  })();
  cursorKey.catch(() => (cursorKey = undefined));
  return cursorKey;
}
