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
