import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PreconditionFailed } from '../../functions/core/errors';
import { checkIfMatch, etagOf } from '../../functions/core/revision';

const revision = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

describe('ETag and If-Match', () => {
  it('the ETag of a revision matches that revision, and no other', () => {
    fc.assert(
      fc.property(revision, revision, (current, other) => {
        expect(() => checkIfMatch(etagOf(current), current)).not.toThrow();
        if (other !== current) expect(() => checkIfMatch(etagOf(other), current)).toThrow(PreconditionFailed);
      }),
    );
  });

  it('an ETag is a quoted revision, as HTTP wants strong entity tags', () => {
    fc.assert(
      fc.property(revision, (r) => {
        expect(etagOf(r)).toMatch(/^"\d+"$/);
      }),
    );
  });

  it('no If-Match header means no precondition', () => {
    fc.assert(
      fc.property(revision, (r) => {
        expect(() => checkIfMatch(undefined, r)).not.toThrow();
      }),
    );
  });

  it('* matches any revision, alone or in a list', () => {
    fc.assert(
      fc.property(revision, (r) => {
        expect(() => checkIfMatch('*', r)).not.toThrow();
        expect(() => checkIfMatch(`"${r + 1}", *`, r)).not.toThrow();
      }),
    );
  });

  it('a list matches when any member does; weak tags and spacing are tolerated', () => {
    const others = (current: number) => fc.uniqueArray(revision.filter((o) => o !== current), { maxLength: 5 });
    fc.assert(
      fc.property(
        revision.chain((current) => fc.tuple(fc.constant(current), others(current), fc.nat({ max: 5 }), fc.boolean())),
        ([current, rest, at, weak]) => {
          const tags = rest.map(etagOf);
          const listed = [...tags.slice(0, at), `${weak ? 'W/' : ''}${etagOf(current)}`, ...tags.slice(at)];
          expect(() => checkIfMatch(listed.join(' ,  '), current)).not.toThrow();
          if (tags.length) expect(() => checkIfMatch(tags.join(', '), current)).toThrow(PreconditionFailed);
        },
      ),
    );
  });

  it.each([
    ['an empty header', ''],
    ['an unquoted other revision', '8'],
    ['a tag that only contains the revision', '"17"'],
    ['garbage', 'not-an-etag'],
  ])('%s does not match revision 7', (_, header) => {
    expect(() => checkIfMatch(header, 7)).toThrow(PreconditionFailed);
  });

  it('a precondition failure is the 412 domain error', () => {
    try {
      checkIfMatch('"1"', 2);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PreconditionFailed);
      expect((error as PreconditionFailed).code).toBe('precondition_failed');
    }
  });
});
