import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleIdFor } from '../../functions/core/entities/sample';
import { box, newDataset, png, store } from './dataset-files';
import { type Json, type Reply, type TestUser, datasetsPath, newUser } from './helpers';

/**
 * A dataset's samples: batch add from stored files, list with filters and exact totals, get/patch/delete
 * with revisions, batch delete and annotate, stats, and who may see them.
 *
 * Image files may soon become samples by themselves shortly after upload (storage events), with the same
 * id batch add gives. Where a test needs exact control it stores `.bin` files (samples only when added);
 * where it uses images it asserts what batch add answers and polls counts.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

interface SampleSpec {
  path: string;
  bytes?: number;
  annotations?: Json[];
  tags?: string[];
}


/** Store `.bin` files for the specs and batch add them; answers path → sample id. */
async function seed(user: TestUser, base: string, specs: SampleSpec[]): Promise<Record<string, string>> {
  await store(user, base, Object.fromEntries(specs.map((s) => [s.path, randomBytes(s.bytes ?? 16)])));
  const added = await user.api.post(`${base}/sample`, { samples: specs.map(({ bytes: _bytes, ...item }) => item) });
  expect(added.status, added.text).toBe(201);
  expect(added.body.failed).toBe(0);
  return Object.fromEntries(specs.map((s, i) => [s.path, added.body.results[i].sample_id]));
}

async function list(user: TestUser, base: string, query = ''): Promise<{ reply: Reply; paths: string[]; total: number }> {
  const reply = await user.api.get(`${base}/sample${query ? `?${query}` : ''}`);
  expect(reply.status, reply.text).toBe(200);
  return { reply, paths: (reply.body as Json[]).map((s) => s.path), total: Number(reply.headers.get('x-pagination-total')) };
}

/** Poll the list until its total reaches `expected` (other writers, such as storage events, may still be at work). */
async function waitForTotal(user: TestUser, base: string, expected: number, query = '', timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let total = (await list(user, base, query)).total;
  while (total !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    total = (await list(user, base, query)).total;
  }
  return total;
}

let owner: TestUser;
beforeAll(async () => {
  owner = await newUser({ label: 'samples' });
});

describe('batch add', () => {
  it('turns stored files into samples with their annotations and tags; a missing file fails alone with 404', async () => {
    // Prepare
    const { id, base } = await newDataset(owner);
    await store(owner, base, { 'img/a.bin': randomBytes(11), 'img/b.bin': randomBytes(22) });

    // Act
    const added = await owner.api.post(`${base}/sample`, {
      samples: [
        { path: 'img/a.bin', annotations: [{ label: 'cat', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.5, 0.5) }, { label: 'cat' }], tags: ['day'] },
        { path: 'img/missing.bin', annotations: [{ label: 'ghost' }] },
        { path: 'img/b.bin' },
      ],
    });

    // Assess
    expect(added.status, added.text).toBe(201);
    expect(added.body).toEqual({
      succeeded: 2,
      failed: 1,
      results: [
        { index: 0, success: true, sample_id: sampleIdFor(id, 'img/a.bin') },
        { index: 1, success: false, error_code: 404, error_msg: expect.stringContaining('img/missing.bin') },
        { index: 2, success: true, sample_id: sampleIdFor(id, 'img/b.bin') },
      ],
    });
    const a = await owner.api.get(`${base}/sample/${added.body.results[0].sample_id}`);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({
      id: sampleIdFor(id, 'img/a.bin'),
      dataset_id: id,
      path: 'img/a.bin',
      size: 11,
      content_type: 'application/octet-stream',
      annotations: [{ label: 'cat', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.5, 0.5) }, { label: 'cat' }],
      labels: ['cat', 'dog'],
      tags: ['day'],
      review_state: 'unreviewed',
      revision: 1,
      created_on: expect.stringMatching(ISO),
      last_modified: expect.stringMatching(ISO),
    });
    const b = await owner.api.get(`${base}/sample/${sampleIdFor(id, 'img/b.bin')}`);
    expect(b.body).toMatchObject({ path: 'img/b.bin', size: 22, annotations: [], labels: [], tags: [] });
    const all = await list(owner, base);
    expect(all.paths).toEqual(['img/a.bin', 'img/b.bin']);
    expect(all.total).toBe(2);
    // The missing file's label never joined the class list.
    const labels = await owner.api.get(`${base}/label`);
    expect(labels.body.map((l: Json) => l.name)).toEqual(['cat', 'dog']);
  });

  it('adding a file again keeps its id and count; given annotations replace, omitted ones are kept', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'x.bin', annotations: [{ label: 'cat' }], tags: ['t1'] }]);

    // Act
    const again = await owner.api.post(`${base}/sample`, { samples: [{ path: 'x.bin' }] });
    const kept = await owner.api.get(`${base}/sample/${ids['x.bin']}`);
    const replaced = await owner.api.post(`${base}/sample`, { samples: [{ path: 'x.bin', annotations: [{ label: 'dog' }], tags: [] }] });
    const after = await owner.api.get(`${base}/sample/${ids['x.bin']}`);

    // Assess
    expect(again.body.results[0].sample_id).toBe(ids['x.bin']);
    expect(kept.body).toMatchObject({ annotations: [{ label: 'cat' }], labels: ['cat'], tags: ['t1'], revision: 2 });
    expect(replaced.body.results[0].sample_id).toBe(ids['x.bin']);
    expect(after.body).toMatchObject({ annotations: [{ label: 'dog' }], labels: ['dog'], tags: [], revision: 3 });
    expect(after.body.created_on).toBe(kept.body.created_on);
    expect((await list(owner, base)).total).toBe(1);
  });

  it('refuses bad items with a 400 and adds nothing: an escaping path, a duplicate path, a box outside the image', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    await store(owner, base, { 'ok.bin': randomBytes(4) });

    // Act
    const bodies = [
      { samples: [{ path: 'ok.bin' }, { path: '../other/x.bin' }] },
      { samples: [{ path: 'ok.bin' }, { path: 'ok.bin' }] },
      { samples: [{ path: 'ok.bin', annotations: [{ label: 'cat', box: { x: 0.9, y: 0.1, w: 0.2, h: 0.1 } }] }] },
      { samples: [{ path: 'ok.bin', annotations: [{ label: 'a/b' }] }] },
      { samples: [] },
    ];
    const replies = await Promise.all(bodies.map((body) => owner.api.post(`${base}/sample`, body)));

    // Assess
    for (const reply of replies) expect(reply.status, reply.text).toBe(400);
    expect((await list(owner, base)).total).toBe(0);
  });

  it('registers real PNG images under the same deterministic id, however they get registered', async () => {
    // Prepare
    const { id, base } = await newDataset(owner);
    const images = { 'frames/a.png': png(4, 3), 'frames/b.png': png(2, 5) };
    await store(owner, base, images);

    // Act
    const added = await owner.api.post(`${base}/sample`, {
      samples: [{ path: 'frames/a.png', annotations: [{ label: 'car', box: box(0, 0, 0.5, 0.5) }] }, { path: 'frames/b.png', tags: ['night'] }],
    });

    // Assess
    expect(added.status, added.text).toBe(201);
    expect(added.body.results.map((r: Json) => r.sample_id)).toEqual([sampleIdFor(id, 'frames/a.png'), sampleIdFor(id, 'frames/b.png')]);
    expect(await waitForTotal(owner, base, 2)).toBe(2);
    const { reply } = await list(owner, base);
    expect(reply.body.map((s: Json) => [s.id, s.path, s.size, s.content_type])).toEqual([
      [sampleIdFor(id, 'frames/a.png'), 'frames/a.png', images['frames/a.png'].length, 'image/png'],
      [sampleIdFor(id, 'frames/b.png'), 'frames/b.png', images['frames/b.png'].length, 'image/png'],
    ]);
    expect(reply.body[0]).toMatchObject({ annotations: [{ label: 'car', box: box(0, 0, 0.5, 0.5) }], labels: ['car'] });
    expect(reply.body[1].tags).toEqual(['night']);
    // Dimensions, where known, are the image's.
    for (const [sample, [w, h]] of [[reply.body[0], [4, 3]], [reply.body[1], [2, 5]]] as const) {
      if (sample.width !== undefined) expect([sample.width, sample.height]).toEqual([w, h]);
    }
  });
});

describe('listing samples', () => {
  let base: string;
  beforeAll(async () => {
    ({ base } = await newDataset(owner));
    const ids = await seed(owner, base, [
      { path: 'p/1.bin', annotations: [{ label: 'cat', box: box(0.1, 0.1) }], tags: ['day'] },
      { path: 'p/2.bin', annotations: [{ label: 'dog' }], tags: ['night'] },
      { path: 'p/3.bin', annotations: [{ label: 'cat' }, { label: 'dog', box: box(0.3, 0.3) }], tags: ['day', 'night'] },
      { path: 'p/4.bin', tags: ['day'] },
      { path: 'p/5.bin' },
    ]);
    expect((await owner.api.post(`${base}/sample/annotations`, { samples: [{ sample_id: ids['p/1.bin'], annotations: [{ label: 'cat', box: box(0.1, 0.1) }], review_state: 'accepted' }] })).body.succeeded).toBe(1);
    expect((await owner.api.patch(`${base}/sample/${ids['p/4.bin']}`, { review_state: 'rejected' })).status).toBe(200);
  });

  it.each([
    ['', ['p/1.bin', 'p/2.bin', 'p/3.bin', 'p/4.bin', 'p/5.bin']],
    ['labeled=true', ['p/1.bin', 'p/2.bin', 'p/3.bin']],
    ['labeled=false', ['p/4.bin', 'p/5.bin']],
    ['label=cat', ['p/1.bin', 'p/3.bin']],
    ['label=dog', ['p/2.bin', 'p/3.bin']],
    ['label=bird', []],
    ['tag=day', ['p/1.bin', 'p/3.bin', 'p/4.bin']],
    ['tag=night', ['p/2.bin', 'p/3.bin']],
    ['review_state=accepted', ['p/1.bin']],
    ['review_state=rejected', ['p/4.bin']],
    ['review_state=unreviewed', ['p/2.bin', 'p/3.bin', 'p/5.bin']],
    ['label=cat&tag=night', ['p/3.bin']],
    ['labeled=false&tag=day&review_state=rejected', ['p/4.bin']],
  ])('?%s answers the matching samples in path order with the exact total', async (query, expected) => {
    // Act
    const { paths, total, reply } = await list(owner, base, query);

    // Assess
    expect(paths).toEqual(expected);
    expect(total).toBe(expected.length);
    expect(reply.headers.get('x-next-cursor')).toBeNull();
  });

  it('keeps the exact total of a filter when the page is smaller than the matches', async () => {
    const { paths, total, reply } = await list(owner, base, 'labeled=true&size=1');
    expect(paths).toEqual(['p/1.bin']);
    expect(total).toBe(3);
    expect(reply.headers.get('x-next-cursor')).toBeTruthy();
  });

  it('refuses unknown filter values with a 400', async () => {
    for (const query of ['labeled=maybe', 'review_state=done', 'size=0', 'size=1001', 'label=a%2Fb']) {
      expect((await owner.api.get(`${base}/sample?${query}`)).status, query).toBe(400);
    }
  });

  it('walks every sample with a cursor, pages full and in path order, and skip works too', async () => {
    // Act
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(owner, base, `size=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.total).toBe(5);
      seen.push(...page.paths);
      sizes.push(page.paths.length);
      cursor = page.reply.headers.get('x-next-cursor') ?? undefined;
      if (cursor) expect(page.reply.headers.get('link')).toContain('rel="next"');
    } while (cursor);
    const skipped = await list(owner, base, 'skip=3&size=10');

    // Assess
    expect(seen).toEqual(['p/1.bin', 'p/2.bin', 'p/3.bin', 'p/4.bin', 'p/5.bin']);
    expect(sizes).toEqual([2, 2, 1]);
    expect(skipped.paths).toEqual(['p/4.bin', 'p/5.bin']);
    expect(skipped.total).toBe(5);
  });

  it('walks a filtered list with a cursor, and refuses that cursor with another filter', async () => {
    // Act
    const first = await list(owner, base, 'tag=day&size=2');
    const cursor = encodeURIComponent(first.reply.headers.get('x-next-cursor') ?? '');
    const second = await list(owner, base, `tag=day&size=2&cursor=${cursor}`);
    const misused = await owner.api.get(`${base}/sample?tag=night&size=2&cursor=${cursor}`);

    // Assess
    expect([...first.paths, ...second.paths]).toEqual(['p/1.bin', 'p/3.bin', 'p/4.bin']);
    expect([first.total, second.total]).toEqual([3, 3]);
    expect(second.reply.headers.get('x-next-cursor')).toBeNull();
    expect(misused.status).toBe(400);
  });
});

describe('one sample', () => {
  let base: string;
  let datasetId: string;
  beforeAll(async () => {
    ({ base, id: datasetId } = await newDataset(owner));
  });

  it('GET answers the sample with its revision as ETag; an unknown or malformed id is 404 or 400', async () => {
    // Prepare
    const ids = await seed(owner, base, [{ path: 'get/one.bin', bytes: 7, annotations: [{ label: 'cat' }] }]);

    // Act
    const got = await owner.api.get(`${base}/sample/${ids['get/one.bin']}`);

    // Assess
    expect(got.status).toBe(200);
    expect(got.body.id).toMatch(UUID);
    expect(got.body).toMatchObject({ dataset_id: datasetId, path: 'get/one.bin', size: 7, revision: 1 });
    expect(got.headers.get('etag')).toBe('"1"');
    expect((await owner.api.get(`${base}/sample/${randomUUID()}`)).status).toBe(404);
    expect((await owner.api.get(`${base}/sample/not-a-uuid`)).status).toBe(400);
  });

  it('PATCH with a stale If-Match answers 412 and changes nothing; with the current one it applies and bumps the revision', async () => {
    // Prepare
    const ids = await seed(owner, base, [{ path: 'patch/one.bin', annotations: [{ label: 'cat' }], tags: ['a'] }]);
    const path = `${base}/sample/${ids['patch/one.bin']}`;
    const before = await owner.api.get(path);

    // Act
    const stale = await owner.api.patch(path, { annotations: [] }, { headers: { 'if-match': '"7"' } });
    const unchanged = await owner.api.get(path);
    const patched = await owner.api.patch(
      path,
      { annotations: [{ label: 'truck', box: box(0.2, 0.2, 0.5, 0.3) }, { label: 'bus' }, { label: 'truck' }], review_state: 'accepted' },
      { headers: { 'if-match': before.headers.get('etag')! } },
    );

    // Assess
    expect(stale.status).toBe(412);
    expect(unchanged.body).toEqual(before.body);
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toEqual({
      ...before.body,
      annotations: [{ label: 'truck', box: box(0.2, 0.2, 0.5, 0.3) }, { label: 'bus' }, { label: 'truck' }],
      labels: ['bus', 'truck'],
      review_state: 'accepted',
      revision: 2,
      last_modified: expect.stringMatching(ISO),
    });
    expect(patched.headers.get('etag')).toBe('"2"');
    const got = await owner.api.get(path);
    expect(got.body).toEqual(patched.body);
    // The same If-Match is stale now.
    expect((await owner.api.patch(path, { tags: ['b'] }, { headers: { 'if-match': before.headers.get('etag')! } })).status).toBe(412);
  });

  it('PATCH without If-Match changes only the named fields; clearing annotations makes it unlabeled', async () => {
    // Prepare
    const ids = await seed(owner, base, [{ path: 'patch/two.bin', annotations: [{ label: 'cat' }], tags: ['a'] }]);
    const path = `${base}/sample/${ids['patch/two.bin']}`;

    // Act
    const tagged = await owner.api.patch(path, { tags: ['b', 'c'] });
    const cleared = await owner.api.patch(path, { annotations: [] });

    // Assess
    expect(tagged.body).toMatchObject({ annotations: [{ label: 'cat' }], labels: ['cat'], tags: ['b', 'c'], revision: 2 });
    expect(cleared.body).toMatchObject({ annotations: [], labels: [], tags: ['b', 'c'], review_state: 'unreviewed', revision: 3 });
    const unlabeled = await list(owner, base, 'labeled=false');
    expect(unlabeled.paths).toContain('patch/two.bin');
  });

  it('PATCH refuses an empty change, unknown fields and bad values with a 400, and 404 for an unknown sample', async () => {
    // Prepare
    const ids = await seed(owner, base, [{ path: 'patch/three.bin' }]);
    const path = `${base}/sample/${ids['patch/three.bin']}`;

    // Act
    const replies = await Promise.all(
      [{}, { path: 'elsewhere.bin' }, { review_state: 'done' }, { annotations: [{ label: 'x', box: { x: -0.1, y: 0, w: 0.1, h: 0.1 } }] }, { tags: ['a,b'] }].map((body) =>
        owner.api.patch(path, body),
      ),
    );

    // Assess
    for (const reply of replies) expect(reply.status, reply.text).toBe(400);
    expect((await owner.api.get(path)).body.revision).toBe(1);
    expect((await owner.api.patch(`${base}/sample/${randomUUID()}`, { tags: ['x'] })).status).toBe(404);
  });

  it('DELETE honours If-Match, answers the deleted sample, and leaves its file in storage', async () => {
    // Prepare
    const ids = await seed(owner, base, [{ path: 'del/one.bin', bytes: 9, annotations: [{ label: 'cat' }] }]);
    const path = `${base}/sample/${ids['del/one.bin']}`;
    const before = await owner.api.get(path);
    const totalBefore = (await list(owner, base)).total;

    // Act
    const stale = await owner.api.delete(path, { headers: { 'if-match': '"9"' } });
    const deleted = await owner.api.delete(path, { headers: { 'if-match': '"1"' } });

    // Assess
    expect(stale.status).toBe(412);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual(before.body);
    expect((await owner.api.get(path)).status).toBe(404);
    expect((await owner.api.delete(path)).status).toBe(404);
    expect((await list(owner, base)).total).toBe(totalBefore - 1);
    const file = await owner.api.get(`${base}/file/del/one.bin`);
    expect(file.status).toBe(200);
    expect(file.body.size).toBe(9);
  });
});

describe('batch delete and annotate', () => {
  it('deletes each listed sample, answers 404 for unknown ids alone, and removes files with delete_source', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'd/a.bin' }, { path: 'd/b.bin' }, { path: 'd/c.bin' }, { path: 'd/keep.bin' }]);
    const unknown = randomUUID();

    // Act
    const kept = await owner.api.post(`${base}/sample/delete`, { sample_ids: [ids['d/a.bin'], unknown] });
    const removed = await owner.api.post(`${base}/sample/delete`, { sample_ids: [ids['d/b.bin'], ids['d/c.bin']], delete_source: true });

    // Assess
    expect(kept.status, kept.text).toBe(200);
    expect(kept.body).toEqual({
      succeeded: 1,
      failed: 1,
      results: [
        { index: 0, success: true, sample_id: ids['d/a.bin'] },
        { index: 1, success: false, sample_id: unknown, error_code: 404, error_msg: expect.any(String) },
      ],
    });
    expect(removed.body).toMatchObject({ succeeded: 2, failed: 0 });
    expect((await list(owner, base)).paths).toEqual(['d/keep.bin']);
    expect((await list(owner, base)).total).toBe(1);
    for (const path of ['d/a.bin', 'd/b.bin', 'd/c.bin']) expect((await owner.api.get(`${base}/sample/${ids[path]}`)).status).toBe(404);
    expect((await owner.api.get(`${base}/file/d/a.bin`)).status).toBe(200);
    expect((await owner.api.get(`${base}/file/d/b.bin`)).status).toBe(404);
    expect((await owner.api.get(`${base}/file/d/c.bin`)).status).toBe(404);
    expect((await owner.api.get(`${base}/file/d/keep.bin`)).status).toBe(200);
    // Deleting again: each id is unknown now.
    const again = await owner.api.post(`${base}/sample/delete`, { sample_ids: [ids['d/a.bin']] });
    expect(again.body).toMatchObject({ succeeded: 0, failed: 1, results: [{ index: 0, success: false, error_code: 404 }] });
  });

  it('deletes a sample listed twice once: the second mention answers 404 and the count stays exact', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'twice.bin' }, { path: 'other.bin' }]);

    // Act
    const deleted = await owner.api.post(`${base}/sample/delete`, { sample_ids: [ids['twice.bin'], ids['twice.bin']] });

    // Assess
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toMatchObject({ succeeded: 1, failed: 1 });
    expect(deleted.body.results.map((r: Json) => r.error_code ?? 200).sort()).toEqual([200, 404]);
    const left = await list(owner, base);
    expect(left.paths).toEqual(['other.bin']);
    expect(left.total).toBe(1);
  });

  it("replaces each listed sample's annotations whole, sets review states, and answers 404 for unknown ids alone", async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'a.bin', annotations: [{ label: 'cat' }] }, { path: 'b.bin', annotations: [{ label: 'dog' }], tags: ['keep'] }, { path: 'c.bin' }]);
    const unknown = randomUUID();

    // Act
    const annotated = await owner.api.post(`${base}/sample/annotations`, {
      samples: [
        { sample_id: ids['a.bin'], annotations: [{ label: 'zebra', box: box(0.1, 0.2, 0.3, 0.4) }, { label: 'zebra', box: box(0.5, 0.5) }], review_state: 'accepted' },
        { sample_id: unknown, annotations: [{ label: 'ghost' }] },
        { sample_id: ids['b.bin'], annotations: [] },
      ],
    });

    // Assess
    expect(annotated.status, annotated.text).toBe(200);
    expect(annotated.body).toEqual({
      succeeded: 2,
      failed: 1,
      results: [
        { index: 0, success: true, sample_id: ids['a.bin'] },
        { index: 1, success: false, sample_id: unknown, error_code: 404, error_msg: expect.any(String) },
        { index: 2, success: true, sample_id: ids['b.bin'] },
      ],
    });
    const a = (await owner.api.get(`${base}/sample/${ids['a.bin']}`)).body;
    expect(a).toMatchObject({ annotations: [{ label: 'zebra', box: box(0.1, 0.2, 0.3, 0.4) }, { label: 'zebra', box: box(0.5, 0.5) }], labels: ['zebra'], review_state: 'accepted', revision: 2 });
    const b = (await owner.api.get(`${base}/sample/${ids['b.bin']}`)).body;
    expect(b).toMatchObject({ annotations: [], labels: [], tags: ['keep'], review_state: 'unreviewed', revision: 2 });
    expect((await list(owner, base, 'labeled=false')).paths).toEqual(['b.bin', 'c.bin']);
    expect((await list(owner, base, 'label=zebra')).paths).toEqual(['a.bin']);
    // No sample was made for the unknown id, and its label did not join the class list.
    expect((await list(owner, base)).total).toBe(3);
    expect((await owner.api.get(`${base}/label`)).body.map((l: Json) => l.name)).not.toContain('ghost');
  });

  it('refuses 1,001 items in any batch with a 400 and changes nothing', async () => {
    // Prepare
    const { id, base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'in.bin', annotations: [{ label: 'cat' }] }]);
    await store(owner, base, { 'spare.bin': randomBytes(5) });
    const before = (await owner.api.get(`${base}/sample/${ids['in.bin']}`)).body;
    const many = <T>(first: T, rest: (i: number) => T) => [first, ...Array.from({ length: 1000 }, (_, i) => rest(i))];

    // Act
    const add = await owner.api.post(`${base}/sample`, { samples: many({ path: 'spare.bin' }, (i) => ({ path: `none/${i}.bin` })) });
    const del = await owner.api.post(`${base}/sample/delete`, { sample_ids: many(ids['in.bin'], () => randomUUID()) });
    const annotate = await owner.api.post(`${base}/sample/annotations`, {
      samples: many({ sample_id: ids['in.bin'], annotations: [] as Json[] }, () => ({ sample_id: randomUUID(), annotations: [] })),
    });

    // Assess
    for (const reply of [add, del, annotate]) {
      expect(reply.status, reply.text.slice(0, 300)).toBe(400);
      expect(reply.body.code).toBe('bad_request');
    }
    expect((await owner.api.get(`${base}/sample/${ids['in.bin']}`)).body).toEqual(before);
    expect((await owner.api.get(`${base}/sample/${sampleIdFor(id, 'spare.bin')}`)).status).toBe(404);
    expect((await list(owner, base)).total).toBe(1);
    // 1,000 is the limit, not over it.
    const thousand = await owner.api.post(`${base}/sample/delete`, { sample_ids: Array.from({ length: 1000 }, () => randomUUID()) });
    expect(thousand.status).toBe(200);
    expect(thousand.body).toMatchObject({ succeeded: 0, failed: 1000 });
  });
});

describe('stats', () => {
  it('counts samples, labeled and unlabeled, per label samples and annotations, review states and bytes', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [
      { path: 's/a.bin', bytes: 10, annotations: [{ label: 'cat', box: box(0, 0) }, { label: 'cat', box: box(0.5, 0.5) }, { label: 'dog' }] },
      { path: 's/b.bin', bytes: 20, annotations: [{ label: 'cat' }] },
      { path: 's/c.bin', bytes: 30 },
      { path: 's/d.bin', bytes: 40 },
      { path: 's/e.bin', bytes: 50, annotations: [{ label: 'bird' }] },
    ]);
    await owner.api.patch(`${base}/sample/${ids['s/a.bin']}`, { review_state: 'accepted' });
    await owner.api.patch(`${base}/sample/${ids['s/d.bin']}`, { review_state: 'rejected' });
    await owner.api.delete(`${base}/sample/${ids['s/e.bin']}`);

    // Act
    const stats = await owner.api.get(`${base}/stats`);

    // Assess
    expect(stats.status, stats.text).toBe(200);
    expect(stats.body).toEqual({
      sample_count: 4,
      labeled_count: 2,
      unlabeled_count: 2,
      bytes: 100,
      labels: [
        { name: 'cat', samples: 2, annotations: 3 },
        { name: 'dog', samples: 1, annotations: 1 },
      ],
      review_states: { unreviewed: 2, accepted: 1, rejected: 1 },
    });
  });

  it('answers zeros for a dataset without samples', async () => {
    const { base } = await newDataset(owner);
    const stats = await owner.api.get(`${base}/stats`);
    expect(stats.body).toEqual({ sample_count: 0, labeled_count: 0, unlabeled_count: 0, bytes: 0, labels: [], review_states: { unreviewed: 0, accepted: 0, rejected: 0 } });
  });
});

describe('who can see samples', () => {
  it("answers 404 for another user's upload and sample ids, whichever namespace is asked, and changes nothing", async () => {
    // Prepare
    const { id: datasetId, base } = await newDataset(owner);
    const uploadId = await store(owner, base, { 'secret.bin': randomBytes(8), 'other.bin': randomBytes(8) });
    const ids = await seed(owner, base, [{ path: 'mine.bin', annotations: [{ label: 'cat' }] }]);
    const sampleId = ids['mine.bin']!;
    const before = (await owner.api.get(`${base}/sample/${sampleId}`)).body;
    const stranger = await newUser({ label: 'samples-stranger' });
    const own = await newDataset(stranger);
    const theirNamespace = `${datasetsPath(stranger.id)}/${datasetId}`;

    // Act + Assess: the owner's namespace with the stranger's token, and the stranger's namespace with the owner's dataset.
    for (const path of [base, theirNamespace]) {
      const replies = await Promise.all([
        stranger.api.get(`${path}/upload/${uploadId}`),
        stranger.api.get(`${path}/sample`),
        stranger.api.get(`${path}/sample/${sampleId}`),
        stranger.api.patch(`${path}/sample/${sampleId}`, { annotations: [] }),
        stranger.api.delete(`${path}/sample/${sampleId}`),
        stranger.api.post(`${path}/sample`, { samples: [{ path: 'other.bin' }] }),
        stranger.api.post(`${path}/sample/delete`, { sample_ids: [sampleId], delete_source: true }),
        stranger.api.post(`${path}/sample/annotations`, { samples: [{ sample_id: sampleId, annotations: [] }] }),
        stranger.api.get(`${path}/stats`),
      ]);
      for (const reply of replies) {
        expect(reply.status, `${path}: ${reply.text}`).toBe(404);
        expect(reply.body.code).toBe('not_found');
      }
    }
    // The stranger's own dataset knows neither the upload, the sample nor the owner's files.
    expect((await stranger.api.get(`${own.base}/upload/${uploadId}`)).status).toBe(404);
    expect((await stranger.api.get(`${own.base}/sample/${sampleId}`)).status).toBe(404);
    expect((await stranger.api.patch(`${own.base}/sample/${sampleId}`, { tags: ['x'] })).status).toBe(404);
    expect((await stranger.api.delete(`${own.base}/sample/${sampleId}`)).status).toBe(404);
    const annotate = await stranger.api.post(`${own.base}/sample/annotations`, { samples: [{ sample_id: sampleId, annotations: [] }] });
    expect(annotate.body).toMatchObject({ succeeded: 0, failed: 1, results: [{ error_code: 404 }] });
    const del = await stranger.api.post(`${own.base}/sample/delete`, { sample_ids: [sampleId], delete_source: true });
    expect(del.body).toMatchObject({ succeeded: 0, failed: 1, results: [{ error_code: 404 }] });
    const add = await stranger.api.post(`${own.base}/sample`, { samples: [{ path: 'other.bin' }] });
    expect(add.body).toMatchObject({ succeeded: 0, failed: 1, results: [{ error_code: 404 }] });
    expect((await list(stranger, own.base)).total).toBe(0);

    // Nothing changed for the owner.
    expect((await owner.api.get(`${base}/sample/${sampleId}`)).body).toEqual(before);
    expect((await owner.api.get(`${base}/upload/${uploadId}`)).body.status).toBe('completed');
    expect((await owner.api.get(`${base}/file/mine.bin`)).status).toBe(200);
    const mine = await list(owner, base);
    expect(mine.paths).toEqual(['mine.bin']);
    expect(mine.total).toBe(1);
  });
});

describe('deleting the dataset', () => {
  it('makes its samples, labels, versions and stats answer 404 at once', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'a.bin', annotations: [{ label: 'cat' }] }, { path: 'b.bin' }]);
    const version = await owner.api.post(`${base}/version`, {});
    expect(version.status, version.text).toBe(201);

    // Act
    const deleted = await owner.api.delete(base);

    // Assess
    expect(deleted.status).toBe(200);
    const replies = await Promise.all([
      owner.api.get(`${base}/sample`),
      owner.api.get(`${base}/sample/${ids['a.bin']}`),
      owner.api.patch(`${base}/sample/${ids['a.bin']}`, { tags: ['x'] }),
      owner.api.post(`${base}/sample/annotations`, { samples: [{ sample_id: ids['b.bin'], annotations: [] }] }),
      owner.api.get(`${base}/label`),
      owner.api.patch(`${base}/label/cat`, { name: 'kitty' }),
      owner.api.get(`${base}/stats`),
      owner.api.get(`${base}/version`),
      owner.api.get(`${base}/version/${version.body.id}`),
    ]);
    for (const reply of replies) expect(reply.status, reply.text).toBe(404);
  });
});
