import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { type Json, type Reply, type TestUser, datasetsPath, mapLimit, newUser } from './helpers';
import { box, newDataset, putBytes } from './dataset-files';

/**
 * A dataset's labels (its class list): created by hand or by the annotations that name them; renames and
 * deletes rewrite every sample that carries the label, so the list, the samples, the filters and the
 * stats never disagree. Samples here are `.bin` files added by batch add, so nothing else registers them.
 */
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

interface SampleSpec {
  path: string;
  annotations?: Json[];
  tags?: string[];
}


/** Store `.bin` files for the specs through one upload session and batch add them; answers path → sample id. */
async function seed(user: TestUser, base: string, specs: SampleSpec[]): Promise<Record<string, string>> {
  const started = await user.api.post(`${base}/upload`, { files: specs.map((s) => ({ name: s.path, size: 16 })) });
  expect(started.status, started.text).toBe(201);
  await mapLimit(started.body.files as Json[], 8, (planned) => putBytes(planned.url, randomBytes(16)));
  expect((await user.api.post(`${base}/upload/${started.body.id}/complete`)).status).toBe(200);
  const added = await user.api.post(`${base}/sample`, { samples: specs });
  expect(added.status, added.text).toBe(201);
  expect(added.body.failed).toBe(0);
  return Object.fromEntries(specs.map((s, i) => [s.path, added.body.results[i].sample_id]));
}

async function labelNames(user: TestUser, base: string): Promise<{ names: string[]; total: number; reply: Reply }> {
  const reply = await user.api.get(`${base}/label`);
  expect(reply.status, reply.text).toBe(200);
  return { names: (reply.body as Json[]).map((l) => l.name), total: Number(reply.headers.get('x-pagination-total')), reply };
}

async function samplesWith(user: TestUser, base: string, label: string): Promise<{ paths: string[]; total: number }> {
  const reply = await user.api.get(`${base}/sample?label=${encodeURIComponent(label)}`);
  expect(reply.status, reply.text).toBe(200);
  return { paths: (reply.body as Json[]).map((s) => s.path), total: Number(reply.headers.get('x-pagination-total')) };
}

async function sample(user: TestUser, base: string, id: string): Promise<Json> {
  const got = await user.api.get(`${base}/sample/${id}`);
  expect(got.status, got.text).toBe(200);
  return got.body;
}

/** Three samples: a carries cat (boxed) and dog, b carries cat, c carries dog, d carries nothing. */
const ZOO: SampleSpec[] = [
  { path: 'a.bin', annotations: [{ label: 'cat', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.5, 0.5) }] },
  { path: 'b.bin', annotations: [{ label: 'cat' }] },
  { path: 'c.bin', annotations: [{ label: 'dog' }], tags: ['kept'] },
  { path: 'd.bin' },
];

let owner: TestUser;
beforeAll(async () => {
  owner = await newUser({ label: 'labels' });
});

describe('creating and listing labels', () => {
  it('creates a label (201) with its colour, answers 409 for a name taken, and lists them in name order with the exact total', async () => {
    // Prepare
    const { base } = await newDataset(owner);

    // Act
    const zebra = await owner.api.post(`${base}/label`, { name: 'zebra', color: '#00ff00' });
    const apple = await owner.api.post(`${base}/label`, { name: 'apple' });
    const again = await owner.api.post(`${base}/label`, { name: 'zebra', color: '#ff0000' });
    const mango = await owner.api.post(`${base}/label`, { name: 'mango' });

    // Assess
    expect(zebra.status, zebra.text).toBe(201);
    expect(zebra.body).toEqual({ name: 'zebra', color: '#00ff00', created_on: expect.stringMatching(ISO) });
    expect(apple.body).toEqual({ name: 'apple', created_on: expect.stringMatching(ISO) });
    expect(mango.status).toBe(201);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    const all = await labelNames(owner, base);
    expect(all.names).toEqual(['apple', 'mango', 'zebra']);
    expect(all.total).toBe(3);
    expect(all.reply.body[2]).toEqual(zebra.body);
    // Paged: one at a time with the cursor, the total exact on every page.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await owner.api.get(`${base}/label?size=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.headers.get('x-pagination-total')).toBe('3');
      seen.push(...page.body.map((l: Json) => l.name));
      cursor = page.headers.get('x-next-cursor') ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['apple', 'mango', 'zebra']);
  });

  it('replays a create under the same Idempotency-Key (201 again, not 409)', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const key = { headers: { 'idempotency-key': `label-${randomUUID()}` } };

    // Act
    const first = await owner.api.post(`${base}/label`, { name: 'once', color: '#abcdef' }, key);
    const replay = await owner.api.post(`${base}/label`, { name: 'once', color: '#abcdef' }, key);

    // Assess
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await labelNames(owner, base)).total).toBe(1);
  });

  it('refuses bad names, colours and fields with a 400 and creates nothing', async () => {
    // Prepare
    const { base } = await newDataset(owner);

    // Act
    const replies = await Promise.all(
      [{ name: 'a/b' }, { name: '' }, { name: '   ' }, { name: 'x'.repeat(129) }, { name: 'ok', color: 'red' }, { name: 'ok', extra: 1 }, {}].map((body) =>
        owner.api.post(`${base}/label`, body),
      ),
    );

    // Assess
    for (const reply of replies) expect(reply.status, reply.text).toBe(400);
    expect((await labelNames(owner, base)).total).toBe(0);
  });

  it('adds the labels that annotations name by themselves: batch add, PATCH and batch annotate', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    await owner.api.post(`${base}/label`, { name: 'cat', color: '#123456' });

    // Act
    const ids = await seed(owner, base, [{ path: 'one.bin', annotations: [{ label: 'cat' }, { label: 'dog' }] }, { path: 'two.bin' }]);
    await owner.api.patch(`${base}/sample/${ids['two.bin']}`, { annotations: [{ label: 'fox', box: box(0, 0) }] });
    await owner.api.post(`${base}/sample/annotations`, { samples: [{ sample_id: ids['one.bin'], annotations: [{ label: 'owl' }, { label: 'cat' }] }] });

    // Assess
    const { names, total, reply } = await labelNames(owner, base);
    expect(names).toEqual(['cat', 'dog', 'fox', 'owl']);
    expect(total).toBe(4);
    // The hand-made label kept its colour.
    expect(reply.body[0]).toMatchObject({ name: 'cat', color: '#123456' });
  });

  it("gives a folder-per-class dataset's samples their folder's label", async () => {
    // Prepare
    const { base } = await newDataset(owner, { type: 'image_classification', format: 'default' });

    // Act
    const ids = await seed(owner, base, [{ path: 'cats/1.bin' }, { path: 'dogs/2.bin' }, { path: 'dogs/3.bin', annotations: [] }]);

    // Assess
    expect((await sample(owner, base, ids['cats/1.bin']!)).annotations).toEqual([{ label: 'cats' }]);
    expect((await sample(owner, base, ids['dogs/2.bin']!)).labels).toEqual(['dogs']);
    // Annotations given (even none) win over the folder.
    expect((await sample(owner, base, ids['dogs/3.bin']!)).labels).toEqual([]);
    expect((await labelNames(owner, base)).names).toEqual(['cats', 'dogs']);
  });
});

describe('renaming labels', () => {
  it('PATCH renames a label and every sample carrying it follows; the old name finds nothing', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    const recoloured = await owner.api.patch(`${base}/label/cat`, { color: '#112233' });
    const before = await sample(owner, base, ids['a.bin']!);

    // Act
    const renamed = await owner.api.patch(`${base}/label/cat`, { name: 'kitty' });

    // Assess
    expect(recoloured.status, recoloured.text).toBe(200);
    expect(recoloured.body).toMatchObject({ name: 'cat', color: '#112233' });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body).toEqual({ name: 'kitty', color: '#112233', created_on: recoloured.body.created_on });
    const a = await sample(owner, base, ids['a.bin']!);
    expect(a.annotations).toEqual([{ label: 'kitty', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.5, 0.5) }]);
    expect(a.labels).toEqual(['dog', 'kitty']);
    expect(a.revision).toBe(before.revision + 1);
    expect(await sample(owner, base, ids['b.bin']!)).toMatchObject({ annotations: [{ label: 'kitty' }], labels: ['kitty'] });
    // Samples without the label are untouched.
    expect(await sample(owner, base, ids['c.bin']!)).toMatchObject({ annotations: [{ label: 'dog' }], labels: ['dog'], tags: ['kept'], revision: 1 });
    expect(await samplesWith(owner, base, 'cat')).toEqual({ paths: [], total: 0 });
    expect(await samplesWith(owner, base, 'kitty')).toEqual({ paths: ['a.bin', 'b.bin'], total: 2 });
    expect((await labelNames(owner, base)).names).toEqual(['dog', 'kitty']);
    expect((await owner.api.get(`${base}/stats`)).body.labels).toEqual([
      { name: 'dog', samples: 2, annotations: 2 },
      { name: 'kitty', samples: 2, annotations: 2 },
    ]);
    expect((await owner.api.patch(`${base}/label/cat`, { name: 'tiger' })).status).toBe(404);
  });

  it('PATCH answers 409 for a name taken and 404 for an unknown label, changing nothing; 400 for an empty change', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    const a = await sample(owner, base, ids['a.bin']!);

    // Act
    const taken = await owner.api.patch(`${base}/label/cat`, { name: 'dog' });
    const unknown = await owner.api.patch(`${base}/label/cow`, { name: 'bull' });
    const empty = await owner.api.patch(`${base}/label/cat`, {});
    const slash = await owner.api.patch(`${base}/label/cat`, { name: 'c/at' });

    // Assess
    expect(taken.status).toBe(409);
    expect(unknown.status).toBe(404);
    expect(empty.status).toBe(400);
    expect(slash.status).toBe(400);
    expect(await sample(owner, base, ids['a.bin']!)).toEqual(a);
    expect((await labelNames(owner, base)).names).toEqual(['cat', 'dog']);
    expect((await samplesWith(owner, base, 'cat')).total).toBe(2);
    expect((await labelNames(owner, base)).names).not.toContain('bull');
  });

  it('PATCH to its own name, with no colour, answers the label unchanged', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const created = await owner.api.post(`${base}/label`, { name: 'plain' });

    // Act
    const same = await owner.api.patch(`${base}/label/plain`, { name: 'plain' });

    // Assess
    expect(same.status, same.text).toBe(200);
    expect(same.body).toEqual(created.body);
  });

  it('renames a label whose name has a space, addressed URL-encoded', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, [{ path: 'x.bin', annotations: [{ label: 'traffic light', box: box(0.4, 0.1, 0.1, 0.3) }] }]);

    // Act
    const renamed = await owner.api.patch(`${base}/label/${encodeURIComponent('traffic light')}`, { name: 'signal' });

    // Assess
    expect(renamed.status, renamed.text).toBe(200);
    expect((await sample(owner, base, ids['x.bin']!)).annotations).toEqual([{ label: 'signal', box: box(0.4, 0.1, 0.1, 0.3) }]);
    expect((await samplesWith(owner, base, 'traffic light')).total).toBe(0);
  });

  it('batch rename applies in order (renames may chain) and answers per label, 404 and 409 alone', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    await owner.api.post(`${base}/label`, { name: 'bird' });

    // Act
    const renamed = await owner.api.post(`${base}/label/rename`, {
      labels: [
        { name: 'cat', new_name: 'feline' },
        { name: 'cow', new_name: 'bovine' },
        { name: 'dog', new_name: 'bird' },
        { name: 'feline', new_name: 'animal' },
      ],
    });

    // Assess
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body).toEqual({
      results: [
        { name: 'cat', success: true, samples_changed: 2 },
        { name: 'cow', success: false, samples_changed: 0, error_code: 404, error_msg: expect.any(String) },
        { name: 'dog', success: false, samples_changed: 0, error_code: 409, error_msg: expect.stringContaining('bird') },
        { name: 'feline', success: true, samples_changed: 2 },
      ],
    });
    expect((await labelNames(owner, base)).names).toEqual(['animal', 'bird', 'dog']);
    expect(await sample(owner, base, ids['a.bin']!)).toMatchObject({
      annotations: [{ label: 'animal', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.5, 0.5) }],
      labels: ['animal', 'dog'],
    });
    expect((await sample(owner, base, ids['b.bin']!)).labels).toEqual(['animal']);
    expect((await sample(owner, base, ids['c.bin']!)).labels).toEqual(['dog']);
    for (const old of ['cat', 'feline']) expect((await samplesWith(owner, base, old)).total).toBe(0);
    expect(await samplesWith(owner, base, 'animal')).toEqual({ paths: ['a.bin', 'b.bin'], total: 2 });
    expect(await samplesWith(owner, base, 'bird')).toEqual({ paths: [], total: 0 });
  });

  it('batch rename refuses repeated names and more than 100 labels with a 400', async () => {
    const { base } = await newDataset(owner);
    await seed(owner, base, ZOO);
    const repeated = await owner.api.post(`${base}/label/rename`, { labels: [{ name: 'cat', new_name: 'x' }, { name: 'cat', new_name: 'y' }] });
    const tooMany = await owner.api.post(`${base}/label/rename`, { labels: Array.from({ length: 101 }, (_, i) => ({ name: `l${i}`, new_name: `m${i}` })) });
    expect(repeated.status).toBe(400);
    expect(tooMany.status).toBe(400);
    expect((await labelNames(owner, base)).names).toEqual(['cat', 'dog']);
  });
});

describe('deleting labels', () => {
  it('DELETE removes the label and its annotations from every sample; the samples stay', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);

    // Act
    const deleted = await owner.api.delete(`${base}/label/cat`);

    // Assess
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toMatchObject({ name: 'cat', created_on: expect.stringMatching(ISO) });
    expect(await sample(owner, base, ids['a.bin']!)).toMatchObject({ annotations: [{ label: 'dog', box: box(0.5, 0.5) }], labels: ['dog'] });
    expect(await sample(owner, base, ids['b.bin']!)).toMatchObject({ annotations: [], labels: [] });
    expect((await labelNames(owner, base)).names).toEqual(['dog']);
    expect((await samplesWith(owner, base, 'cat')).total).toBe(0);
    const unlabeled = await owner.api.get(`${base}/sample?labeled=false`);
    expect(unlabeled.body.map((s: Json) => s.path)).toEqual(['b.bin', 'd.bin']);
    const stats = (await owner.api.get(`${base}/stats`)).body;
    expect(stats).toMatchObject({ sample_count: 4, labeled_count: 2, unlabeled_count: 2, labels: [{ name: 'dog', samples: 2, annotations: 2 }] });
    expect((await owner.api.delete(`${base}/label/cat`)).status).toBe(404);
  });

  it('DELETE with delete_samples=true deletes the samples carrying the label, and leaves their files', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);

    // Act
    const deleted = await owner.api.delete(`${base}/label/cat?delete_samples=true`);

    // Assess
    expect(deleted.status, deleted.text).toBe(200);
    expect((await owner.api.get(`${base}/sample/${ids['a.bin']}`)).status).toBe(404);
    expect((await owner.api.get(`${base}/sample/${ids['b.bin']}`)).status).toBe(404);
    const left = await owner.api.get(`${base}/sample`);
    expect(left.body.map((s: Json) => s.path)).toEqual(['c.bin', 'd.bin']);
    expect(left.headers.get('x-pagination-total')).toBe('2');
    expect((await labelNames(owner, base)).names).toEqual(['dog']);
    expect((await owner.api.get(`${base}/stats`)).body).toMatchObject({ sample_count: 2, labeled_count: 1 });
    expect((await owner.api.get(`${base}/file/a.bin`)).status).toBe(200);
  });

  it('batch delete answers per label (404 alone), and with delete_samples the samples go', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    const other = await newDataset(owner);
    const otherIds = await seed(owner, other.base, ZOO);

    // Act
    const stripped = await owner.api.post(`${base}/label/delete`, { names: ['cat', 'cow', 'dog'] });
    const purged = await owner.api.post(`${other.base}/label/delete`, { names: ['dog'], delete_samples: true });

    // Assess
    expect(stripped.status, stripped.text).toBe(200);
    expect(stripped.body).toEqual({
      results: [
        { name: 'cat', success: true, samples_changed: 2 },
        { name: 'cow', success: false, samples_changed: 0, error_code: 404, error_msg: expect.any(String) },
        { name: 'dog', success: true, samples_changed: 2 },
      ],
    });
    expect((await labelNames(owner, base)).total).toBe(0);
    const all = await owner.api.get(`${base}/sample`);
    expect(all.headers.get('x-pagination-total')).toBe('4');
    expect(all.body.every((s: Json) => s.annotations.length === 0 && s.labels.length === 0)).toBe(true);
    expect((await sample(owner, base, ids['c.bin']!)).tags).toEqual(['kept']);

    expect(purged.body).toEqual({ results: [{ name: 'dog', success: true, samples_changed: 2 }] });
    const otherLeft = await owner.api.get(`${other.base}/sample`);
    expect(otherLeft.body.map((s: Json) => s.id)).toEqual([otherIds['b.bin'], otherIds['d.bin']]);
    expect(otherLeft.headers.get('x-pagination-total')).toBe('2');
    expect((await labelNames(owner, other.base)).names).toEqual(['cat']);
  });

  it('batch delete refuses more than 100 names with a 400 and deletes nothing', async () => {
    const { base } = await newDataset(owner);
    await seed(owner, base, ZOO);
    const reply = await owner.api.post(`${base}/label/delete`, { names: ['cat', ...Array.from({ length: 100 }, (_, i) => `l${i}`)] });
    expect(reply.status).toBe(400);
    expect((await labelNames(owner, base)).names).toEqual(['cat', 'dog']);
    expect((await samplesWith(owner, base, 'cat')).total).toBe(2);
  });
});

/**
 * Leave on a sample the model guesses a generate job writes back (the whole generate flow runs in
 * ml.test.ts; training a model here would only slow these tests down).
 */
async function guess(datasetId: string, sampleId: string, pending: { label: string; confidence: number }[]): Promise<void> {
  const table = new DynamoDBClient({ endpoint: inject('tableEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await table.send(
    new UpdateItemCommand({
      TableName: 'trainyard',
      Key: { pk: { S: `dataset#${datasetId}#sample` }, sk: { S: sampleId } },
      UpdateExpression: 'SET pendingAnnotations = :pending, pendingFromJob = :job ADD revision :one',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: {
        ':pending': { L: pending.map((p) => ({ M: { label: { S: p.label }, confidence: { N: String(p.confidence) } } })) },
        ':job': { S: randomUUID() },
        ':one': { N: '1' },
      },
    }),
  );
  table.destroy();
}

describe("labels and a model's pending guesses", () => {
  it('a rename carries pending guesses along, so accepting one later gives the new name and never brings the old one back', async () => {
    // Prepare: d.bin (unlabelled) holds a guess of cat.
    const { id, base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    await guess(id, ids['d.bin']!, [{ label: 'cat', confidence: 0.93 }]);

    // Act
    const renamed = await owner.api.patch(`${base}/label/cat`, { name: 'feline' });
    const accepted = await owner.api.patch(`${base}/sample/${ids['d.bin']}`, { review_state: 'accepted' });

    // Assess
    expect(renamed.status, renamed.text).toBe(200);
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({ annotations: [{ label: 'feline' }], labels: ['feline'], review_state: 'accepted' });
    expect(accepted.body.pending_annotations).toBeUndefined();
    expect((await labelNames(owner, base)).names).toEqual(['dog', 'feline']);
  });

  it('a delete drops the pending guesses naming the label (the sample stays, even with delete_samples) and leaves other guesses', async () => {
    // Prepare: d.bin guesses cat; e.bin guesses dog.
    const { id, base } = await newDataset(owner);
    const ids = await seed(owner, base, [...ZOO, { path: 'e.bin' }]);
    await guess(id, ids['d.bin']!, [{ label: 'cat', confidence: 0.81 }]);
    await guess(id, ids['e.bin']!, [{ label: 'dog', confidence: 0.77 }]);

    // Act
    const deleted = await owner.api.delete(`${base}/label/cat?delete_samples=true`);

    // Assess: the carriers of cat are gone, d.bin stays without its guess, e.bin keeps its own.
    expect(deleted.status, deleted.text).toBe(200);
    const d = await sample(owner, base, ids['d.bin']!);
    expect(d.pending_annotations).toBeUndefined();
    expect(d.pending_from_job).toBeUndefined();
    expect((await sample(owner, base, ids['e.bin']!)).pending_annotations).toEqual([{ label: 'dog', confidence: 0.77 }]);
    const pending = await owner.api.get(`${base}/sample?pending=true`);
    expect(pending.body.map((s: Json) => s.path)).toEqual(['e.bin']);
    expect((await owner.api.get(`${base}/sample`)).body.map((s: Json) => s.path)).toEqual(['c.bin', 'd.bin', 'e.bin']);
  });
});

describe('who can see labels', () => {
  it("answers 404 for another user's labels, whichever namespace is asked, and changes nothing", async () => {
    // Prepare
    const { id: datasetId, base } = await newDataset(owner);
    const ids = await seed(owner, base, ZOO);
    const before = await sample(owner, base, ids['a.bin']!);
    const stranger = await newUser({ label: 'labels-stranger' });
    const own = await newDataset(stranger);

    // Act + Assess: the owner's namespace with the stranger's token, and the stranger's namespace with the owner's dataset.
    for (const path of [base, `${datasetsPath(stranger.id)}/${datasetId}`]) {
      const replies = await Promise.all([
        stranger.api.get(`${path}/label`),
        stranger.api.post(`${path}/label`, { name: 'intruder' }),
        stranger.api.patch(`${path}/label/cat`, { name: 'stolen' }),
        stranger.api.delete(`${path}/label/cat?delete_samples=true`),
        stranger.api.post(`${path}/label/rename`, { labels: [{ name: 'dog', new_name: 'stolen' }] }),
        stranger.api.post(`${path}/label/delete`, { names: ['cat', 'dog'], delete_samples: true }),
      ]);
      for (const reply of replies) expect(reply.status, `${path}: ${reply.text}`).toBe(404);
    }
    // The stranger's own dataset has no label of that name.
    expect((await stranger.api.patch(`${own.base}/label/cat`, { name: 'stolen' })).status).toBe(404);
    expect((await stranger.api.delete(`${own.base}/label/cat`)).status).toBe(404);
    const rename = await stranger.api.post(`${own.base}/label/rename`, { labels: [{ name: 'dog', new_name: 'stolen' }] });
    expect(rename.body.results[0]).toMatchObject({ success: false, error_code: 404 });

    // Nothing changed for the owner.
    expect((await labelNames(owner, base)).names).toEqual(['cat', 'dog']);
    expect(await sample(owner, base, ids['a.bin']!)).toEqual(before);
    expect((await owner.api.get(`${base}/sample`)).headers.get('x-pagination-total')).toBe('4');
  });
});
