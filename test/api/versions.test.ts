import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Json, type TestUser, datasetsPath, fetchBytes, mapLimit, newUser } from './helpers';
import { box, newDataset, putBytes } from './dataset-files';

/**
 * Versions: a dataset's samples and annotations frozen into a manifest in storage (JSON lines, one
 * sample a line, in path order). Acceptance: a version's manifest is byte-identical however the samples
 * change afterwards, and its SHA-256 is the one the version states. Samples here are `.bin` files added
 * by batch add, so nothing else registers them.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const SHA256_OF_NOTHING = createHash('sha256').update('').digest('hex');

interface SampleSpec {
  path: string;
  bytes?: number;
  annotations?: Json[];
  tags?: string[];
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Store `.bin` files for the specs through one upload session and batch add them; answers path → sample id. */
async function seed(user: TestUser, base: string, specs: SampleSpec[]): Promise<Record<string, string>> {
  const started = await user.api.post(`${base}/upload`, { files: specs.map((s) => ({ name: s.path, size: s.bytes ?? 16 })) });
  expect(started.status, started.text).toBe(201);
  await mapLimit(started.body.files as Json[], 8, (planned) => putBytes(planned.url, randomBytes(planned.size)));
  expect((await user.api.post(`${base}/upload/${started.body.id}/complete`)).status).toBe(200);
  const added = await user.api.post(`${base}/sample`, { samples: specs.map(({ bytes: _bytes, ...item }) => item) });
  expect(added.status, added.text).toBe(201);
  expect(added.body.failed).toBe(0);
  return Object.fromEntries(specs.map((s, i) => [s.path, added.body.results[i].sample_id]));
}

async function createVersion(user: TestUser, base: string, body: Json = {}): Promise<Json> {
  const created = await user.api.post(`${base}/version`, body);
  expect(created.status, created.text).toBe(201);
  return created.body;
}

/** A version as GET answers it, and its manifest's bytes. */
async function manifestOf(user: TestUser, base: string, versionId: string): Promise<{ version: Json; bytes: Buffer }> {
  const got = await user.api.get(`${base}/version/${versionId}`);
  expect(got.status, got.text).toBe(200);
  expect(got.body.manifest_url).toMatch(/^https?:\/\//);
  return { version: got.body, bytes: await fetchBytes(got.body.manifest_url) };
}

const linesOf = (bytes: Buffer): Json[] =>
  bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));

const SAMPLES: SampleSpec[] = [
  { path: 'train/b.bin', bytes: 20, annotations: [{ label: 'cat', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.4, 0.4, 0.5, 0.5) }], tags: ['day'] },
  { path: 'train/a.bin', bytes: 10, annotations: [{ label: 'cat' }] },
  { path: 'val/c.bin', bytes: 30 },
];

let owner: TestUser;
beforeAll(async () => {
  owner = await newUser({ label: 'versions' });
});

describe('creating a version', () => {
  it('freezes the samples into a manifest: 201 with counts and labels, the manifest one JSON line per sample in path order, its SHA-256 as stated', async () => {
    // Prepare
    const { id: datasetId, base } = await newDataset(owner);
    const ids = await seed(owner, base, SAMPLES);
    await owner.api.post(`${base}/label`, { name: 'bird' });
    const samples = (await owner.api.get(`${base}/sample`)).body as Json[];

    // Act
    const created = await owner.api.post(`${base}/version`, { name: 'first cut', description: 'three samples' });

    // Assess
    expect(created.status, created.text).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(UUID),
      dataset_id: datasetId,
      name: 'first cut',
      description: 'three samples',
      sample_count: 3,
      labeled_count: 2,
      labels: ['bird', 'cat', 'dog'],
      manifest_bytes: expect.any(Number),
      manifest_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      created_on: expect.stringMatching(ISO),
    });
    const { version, bytes } = await manifestOf(owner, base, created.body.id);
    expect(version).toEqual({ ...created.body, manifest_url: expect.any(String) });
    expect(sha256(bytes)).toBe(created.body.manifest_sha256);
    expect(bytes.length).toBe(created.body.manifest_bytes);
    const lines = linesOf(bytes);
    expect(lines).toHaveLength(3);
    expect(bytes.toString('utf8').endsWith('\n')).toBe(true);
    expect(lines.map((l) => l.path)).toEqual(['train/a.bin', 'train/b.bin', 'val/c.bin']);
    // Each line is the sample as it was, without what changes by itself (revision, last_modified).
    for (const [i, line] of lines.entries()) {
      const { revision: _revision, last_modified: _modified, ...frozen } = samples[i];
      expect(line).toEqual(frozen);
    }
    expect(lines[1]).toMatchObject({
      id: ids['train/b.bin'],
      size: 20,
      annotations: [{ label: 'cat', box: box(0.1, 0.1) }, { label: 'dog', box: box(0.4, 0.4, 0.5, 0.5) }],
      labels: ['cat', 'dog'],
      tags: ['day'],
    });
  });

  it('names versions v1, v2… by default and lists them newest first with the exact total', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    await seed(owner, base, SAMPLES.slice(0, 1));

    // Act
    const first = await createVersion(owner, base);
    await new Promise((r) => setTimeout(r, 5));
    const second = await createVersion(owner, base, { description: 'again' });
    await new Promise((r) => setTimeout(r, 5));
    const third = await createVersion(owner, base, { name: 'release' });
    const listed = await owner.api.get(`${base}/version`);
    const paged = await owner.api.get(`${base}/version?size=2`);
    const rest = await owner.api.get(`${base}/version?size=2&cursor=${encodeURIComponent(paged.headers.get('x-next-cursor') ?? '')}`);

    // Assess
    expect([first.name, second.name, third.name]).toEqual(['v1', 'v2', 'release']);
    expect(listed.status).toBe(200);
    expect(listed.body.map((v: Json) => v.id)).toEqual([third.id, second.id, first.id]);
    expect(listed.headers.get('x-pagination-total')).toBe('3');
    expect(listed.body[1]).toEqual(second);
    // The same manifest content answers the same hash.
    expect(new Set([first.manifest_sha256, second.manifest_sha256, third.manifest_sha256]).size).toBe(1);
    expect([...paged.body, ...rest.body].map((v: Json) => v.id)).toEqual([third.id, second.id, first.id]);
    expect(rest.headers.get('x-next-cursor')).toBeNull();
    // A default name is never given twice, even after a delete (the count of versions ever made names it).
    expect((await owner.api.delete(`${base}/version/${second.id}`)).status).toBe(200);
    expect((await createVersion(owner, base)).name).toBe('v4');
  });

  it('creates one version under a repeated Idempotency-Key', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    await seed(owner, base, SAMPLES.slice(1, 2));
    const key = { headers: { 'idempotency-key': `version-${randomUUID()}` } };

    // Act
    const first = await owner.api.post(`${base}/version`, { name: 'nightly' }, key);
    const replay = await owner.api.post(`${base}/version`, { name: 'nightly' }, key);

    // Assess
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    const listed = await owner.api.get(`${base}/version`);
    expect(listed.body.map((v: Json) => v.id)).toEqual([first.body.id]);
  });

  it('freezes an empty dataset into an empty manifest', async () => {
    const { base } = await newDataset(owner);
    const version = await createVersion(owner, base);
    expect(version).toMatchObject({ sample_count: 0, labeled_count: 0, labels: [], manifest_bytes: 0, manifest_sha256: SHA256_OF_NOTHING });
    const { bytes } = await manifestOf(owner, base, version.id);
    expect(bytes.length).toBe(0);
  });

  it('refuses bad bodies with a 400 and creates no version', async () => {
    const { base } = await newDataset(owner);
    for (const body of [{ name: '' }, { name: 'x'.repeat(129) }, { sample_ids: [] }, { description: 7 }]) {
      const reply = await owner.api.post(`${base}/version`, body);
      expect(reply.status, reply.text).toBe(400);
    }
    expect((await owner.api.get(`${base}/version`)).headers.get('x-pagination-total')).toBe('0');
  });
});

describe('a version is immutable', () => {
  it('keeps a byte-identical manifest after samples are patched, annotated, deleted, added and their labels renamed', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    const ids = await seed(owner, base, SAMPLES);
    const version = await createVersion(owner, base);
    const frozen = await manifestOf(owner, base, version.id);

    // Act: change every sample one way or another.
    expect((await owner.api.patch(`${base}/sample/${ids['train/a.bin']}`, { annotations: [{ label: 'fox' }], tags: ['changed'], review_state: 'rejected' })).status).toBe(200);
    const annotated = await owner.api.post(`${base}/sample/annotations`, { samples: [{ sample_id: ids['val/c.bin'], annotations: [{ label: 'owl', box: box(0, 0) }], review_state: 'accepted' }] });
    expect(annotated.body.succeeded).toBe(1);
    expect((await owner.api.patch(`${base}/label/dog`, { name: 'hound' })).status).toBe(200);
    expect((await owner.api.delete(`${base}/sample/${ids['train/b.bin']}`)).status).toBe(200);
    await seed(owner, base, [{ path: 'val/new.bin', annotations: [{ label: 'cat' }] }]);
    const later = await createVersion(owner, base);

    // Assess
    const after = await manifestOf(owner, base, version.id);
    expect(after.bytes.equals(frozen.bytes)).toBe(true);
    expect(sha256(after.bytes)).toBe(version.manifest_sha256);
    expect({ ...after.version, manifest_url: undefined }).toEqual({ ...frozen.version, manifest_url: undefined });
    // The new version sees the samples as they are now.
    expect(later.manifest_sha256).not.toBe(version.manifest_sha256);
    expect(later).toMatchObject({ sample_count: 3, labeled_count: 3 });
    const now = linesOf((await manifestOf(owner, base, later.id)).bytes);
    expect(now.map((l) => [l.path, l.labels])).toEqual([
      ['train/a.bin', ['fox']],
      ['val/c.bin', ['owl']],
      ['val/new.bin', ['cat']],
    ]);
    expect(linesOf(frozen.bytes).map((l) => [l.path, l.labels])).toEqual([
      ['train/a.bin', ['cat']],
      ['train/b.bin', ['cat', 'dog']],
      ['val/c.bin', []],
    ]);
  });
});

describe('deleting a version', () => {
  it('answers the deleted version, then 404; its manifest is gone and the other versions stay', async () => {
    // Prepare
    const { base } = await newDataset(owner);
    await seed(owner, base, SAMPLES);
    const kept = await createVersion(owner, base);
    const doomed = await createVersion(owner, base);
    const { version } = await manifestOf(owner, base, doomed.id);

    // Act
    const deleted = await owner.api.delete(`${base}/version/${doomed.id}`);

    // Assess
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.body).toEqual(doomed);
    expect((await owner.api.get(`${base}/version/${doomed.id}`)).status).toBe(404);
    expect((await owner.api.delete(`${base}/version/${doomed.id}`)).status).toBe(404);
    expect((await fetch(version.manifest_url)).status).toBe(404);
    const listed = await owner.api.get(`${base}/version`);
    expect(listed.body.map((v: Json) => v.id)).toEqual([kept.id]);
    expect(listed.headers.get('x-pagination-total')).toBe('1');
    const { bytes } = await manifestOf(owner, base, kept.id);
    expect(sha256(bytes)).toBe(kept.manifest_sha256);
  });

  it('answers 404 for an unknown version and 400 for a malformed id', async () => {
    const { base } = await newDataset(owner);
    expect((await owner.api.get(`${base}/version/${randomUUID()}`)).status).toBe(404);
    expect((await owner.api.delete(`${base}/version/${randomUUID()}`)).status).toBe(404);
    expect((await owner.api.get(`${base}/version/v1`)).status).toBe(400);
  });
});

describe('who can see versions', () => {
  it("answers 404 for another user's versions, whichever namespace is asked, and changes nothing", async () => {
    // Prepare
    const { id: datasetId, base } = await newDataset(owner);
    await seed(owner, base, SAMPLES);
    const version = await createVersion(owner, base);
    const stranger = await newUser({ label: 'versions-stranger' });
    const own = await newDataset(stranger);

    // Act + Assess: the owner's namespace with the stranger's token, and the stranger's namespace with the owner's dataset.
    for (const path of [base, `${datasetsPath(stranger.id)}/${datasetId}`]) {
      const replies = await Promise.all([
        stranger.api.get(`${path}/version`),
        stranger.api.post(`${path}/version`, { name: 'stolen' }),
        stranger.api.get(`${path}/version/${version.id}`),
        stranger.api.delete(`${path}/version/${version.id}`),
      ]);
      for (const reply of replies) {
        expect(reply.status, `${path}: ${reply.text}`).toBe(404);
        expect(reply.body.code).toBe('not_found');
      }
    }
    // The stranger's own dataset knows nothing of the owner's version.
    expect((await stranger.api.get(`${own.base}/version/${version.id}`)).status).toBe(404);
    expect((await stranger.api.delete(`${own.base}/version/${version.id}`)).status).toBe(404);

    // Nothing changed for the owner.
    const listed = await owner.api.get(`${base}/version`);
    expect(listed.body).toEqual([version]);
    expect(listed.headers.get('x-pagination-total')).toBe('1');
    const { bytes } = await manifestOf(owner, base, version.id);
    expect(sha256(bytes)).toBe(version.manifest_sha256);
  });
});
