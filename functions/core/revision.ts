import { PreconditionFailed } from './errors';

/** Shared optimistic-concurrency helpers: ETags are the quoted revision number. */
export function etagOf(revision: number): string {
  return `"${revision}"`;
}

/** RFC 9110 If-Match: `*`, or a list of (possibly weak) ETags; any match passes. */
export function checkIfMatch(ifMatch: string | undefined, revision: number): void {
  if (ifMatch === undefined) return;
  const candidates = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'));
  if (candidates.includes('*') || candidates.includes(String(revision))) return;
  throw new PreconditionFailed();
}

/** DynamoDB's conditional-check failure, however deep the SDK or ElectroDB wrapped it. */
export function isConditionalCheckFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: string }).name;
    if (name === 'ConditionalCheckFailedException') return true;
    if (typeof (e as Error).message === 'string' && (e as Error).message.includes('conditional request failed')) return true;
  }
  return false;
}
