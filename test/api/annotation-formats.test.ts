import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleIdFor } from '../../functions/core/entities/sample';
import { formUpload, newDataset, png, store, tarball } from './dataset-files';
import { type Json, type TestUser, mapLimit, newUser, waitFor as waitUntil } from './helpers';

/**
 * Annotation formats end to end, on small datasets: KITTI label files from an archive, a JSON-lines
 * manifest over images uploaded earlier (all or nothing per file), a COCO file uploaded after its images
 * (and again, without doubling the figures), and images uploaded on their own becoming samples with their
 * size, or their folder's label in a folder-per-class dataset. Storage events do the work in the
 * background, so every test polls with a deadline.
 */
const WIDTH = 40;
const HEIGHT = 20;
const COUNT = 10;

const waitFor = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000) => waitUntil(what, read, done, timeoutMs, 100);

const importStatus = async (user: TestUser, base: string) => (await user.api.get(base)).body.import_status.annotations as Json;
const sampleCount = async (user: TestUser, base: string) => (await user.api.get(`${base}/stats`)).body.sample_count as number;
const reported = (status: Json) => status.files_applied + status.files_failed;

async function sampleAt(user: TestUser, dataset: { id: string; base: string }, path: string): Promise<Json> {
  const got = await user.api.get(`${dataset.base}/sample/${sampleIdFor(dataset.id, path)}`);
  expect(got.status, `${path}: ${got.text}`).toBe(200);
  return got.body;
}

const name = (i: number) => String(i).padStart(6, '0');
/** Image i's own box, in pixels: 8×10, moving right with i. */
const pixelBox = (i: number) => ({ left: 2 * i, top: 5, right: 2 * i + 8, bottom: 15 });
const normalised = (b: { left: number; top: number; right: number; bottom: number }) => ({
  x: b.left / WIDTH,
  y: b.top / HEIGHT,
  w: (b.right - b.left) / WIDTH,
  h: (b.bottom - b.top) / HEIGHT,
});

let owner: TestUser;
beforeAll(async () => {
  owner = await newUser({ label: 'annotation-formats' });
});

describe('KITTI', () => {
  it('label_2/ files from an archive give their image_2/ images normalised boxes; DontCare is skipped; a malformed file applies nothing', async () => {
    // Arrange
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'kitti' });
    const BAD = 3;
    const kittiLine = (type: string, b: { left: number; top: number; right: number; bottom: number }, score = '') =>
      `${type} 0.00 0 -1.57 ${b.left}.00 ${b.top}.00 ${b.right}.00 ${b.bottom}.00 1.50 1.60 3.90 1.00 1.50 20.00 -1.57${score}`;
    const entries = Array.from({ length: COUNT }, (_, i) => {
      const lines =
        i === BAD
          ? [kittiLine('Car', pixelBox(i)), 'Car 0.00 0 -1.57 1 2 3'] // the second line has 7 fields
          : [kittiLine('Car', pixelBox(i)), kittiLine('DontCare', { left: 0, top: 0, right: 4, bottom: 4 }), kittiLine('Pedestrian', { left: 0, top: 0, right: WIDTH, bottom: HEIGHT }, ' 0.91')];
      return [
        { name: `training/image_2/${name(i)}.png`, data: png(WIDTH, HEIGHT, i) },
        { name: `training/label_2/${name(i)}.txt`, data: Buffer.from(`${lines.join('\n')}\n`) },
      ];
    }).flat();

    // Act
    await formUpload(owner, dataset.base, 'kitti.tar.gz', gzipSync(await tarball(entries)));
    const status = await waitFor('KITTI reports', () => importStatus(owner, dataset.base), (s) => reported(s) === COUNT);

    // Assess
    expect(status).toEqual({
      files_applied: COUNT - 1,
      files_failed: 1,
      samples: COUNT - 1,
      annotations: (COUNT - 1) * 2,
      failures: [{ file: `training/label_2/${name(BAD)}.txt`, format: 'kitti', errors: ['line 2: expected 15 or 16 fields, got 7'], finished_on: expect.any(String) }],
    });
    expect(await sampleCount(owner, dataset.base)).toBe(COUNT);
    for (const i of [0, 1, COUNT - 1]) {
      const sample = await sampleAt(owner, dataset, `training/image_2/${name(i)}.png`);
      expect(sample).toMatchObject({ width: WIDTH, height: HEIGHT, labels: ['Car', 'Pedestrian'] });
      expect(sample.annotations).toEqual([
        { label: 'Car', box: normalised(pixelBox(i)) },
        { label: 'Pedestrian', box: { x: 0, y: 0, w: 1, h: 1 } },
      ]);
    }
    expect((await sampleAt(owner, dataset, `training/image_2/${name(BAD)}.png`)).annotations).toEqual([]);
    expect((await owner.api.get(`${dataset.base}/label`)).body.map((l: Json) => l.name).sort()).toEqual(['Car', 'Pedestrian']);
  });
  it('a label file uploaded on its own, after its image, is normalised with the size of its sample', async () => {
    // Arrange
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'kitti' });
    await store(owner, dataset.base, { 'image_2/000007.png': png(80, 40, 7) });
    await waitFor('the image as a sample', () => sampleCount(owner, dataset.base), (n) => n === 1);

    // Act
    await store(owner, dataset.base, { 'label_2/000007.txt': Buffer.from('Cyclist 0.00 0 0.00 20 10 60 30 1.5 0.6 1.8 1.0 1.5 9.0 0.10\n') });
    const status = await waitFor('the label file applied', () => importStatus(owner, dataset.base), (s) => reported(s) === 1);

    // Assess
    expect(status).toEqual({ files_applied: 1, files_failed: 0, samples: 1, annotations: 1, failures: [] });
    const sample = await sampleAt(owner, dataset, 'image_2/000007.png');
    expect(sample).toMatchObject({ width: 80, height: 40, annotations: [{ label: 'Cyclist', box: { x: 0.25, y: 0.25, w: 0.5, h: 0.5 } }] });
  });
});

describe('manifest', () => {
  it('a JSON-lines manifest over images uploaded earlier applies its annotations and tags; a manifest with one bad line applies nothing', async () => {
    // Arrange: the images first, as loose files, until they are samples.
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'manifest' });
    await store(owner, dataset.base, Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`imgs/${name(i)}.png`, png(WIDTH, HEIGHT, i)])));
    await waitFor('images as samples', () => sampleCount(owner, dataset.base), (n) => n === COUNT);
    const fraction = (i: number) => normalised(pixelBox(i));
    const good = Array.from({ length: COUNT }, (_, i) =>
      i % 2 === 0
        ? { source: `imgs/${name(i)}.png`, annotations: [{ label: 'cat', box: fraction(i) }], tags: [`batch-${i % 3}`] }
        : { path: `imgs/${name(i)}.png`, label: 'dog' },
    );

    // Act
    await formUpload(owner, dataset.base, 'labels.jsonl', Buffer.from(`${good.map((l) => JSON.stringify(l)).join('\n')}\n`));
    const applied = await waitFor('the manifest applied', () => importStatus(owner, dataset.base), (s) => reported(s) === 1);

    // Assess
    expect(applied).toEqual({ files_applied: 1, files_failed: 0, samples: COUNT, annotations: COUNT, failures: [] });
    const before = await mapLimit(Array.from({ length: COUNT }, (_, i) => i), 8, (i) => sampleAt(owner, dataset, `imgs/${name(i)}.png`));
    before.forEach((sample, i) => {
      if (i % 2 === 0) expect(sample).toMatchObject({ annotations: [{ label: 'cat', box: fraction(i) }], labels: ['cat'], tags: [`batch-${i % 3}`] });
      else expect(sample).toMatchObject({ annotations: [{ label: 'dog' }], labels: ['dog'], tags: [] });
      expect(sample).toMatchObject({ width: WIDTH, height: HEIGHT });
    });

    // Arrange: a manifest relabelling every image as a zebra, but its fourth line has an unknown field.
    const bad = Array.from({ length: COUNT }, (_, i) => (i === 3 ? { source: `imgs/${name(i)}.png`, label: 'zebra', colour: 'striped' } : { source: `imgs/${name(i)}.png`, label: 'zebra' }));

    // Act
    await formUpload(owner, dataset.base, 'relabel.jsonl', Buffer.from(bad.map((l) => JSON.stringify(l)).join('\n')));
    const failed = await waitFor('the bad manifest reported', () => importStatus(owner, dataset.base), (s) => reported(s) === 2);

    // Assess: reported, and not one sample changed (not even its revision); no zebra label.
    expect(failed).toMatchObject({ files_applied: 1, files_failed: 1, samples: COUNT, annotations: COUNT });
    expect(failed.failures).toEqual([{ file: 'relabel.jsonl', format: 'manifest', errors: [expect.stringMatching(/^line 4: .*colour/)], finished_on: expect.any(String) }]);
    const after = await mapLimit(Array.from({ length: COUNT }, (_, i) => i), 8, (i) => sampleAt(owner, dataset, `imgs/${name(i)}.png`));
    expect(after).toEqual(before);
    expect((await owner.api.get(`${dataset.base}/label`)).body.map((l: Json) => l.name).sort()).toEqual(['cat', 'dog']);
  });
  it('a manifest in a folder names images beside it', async () => {
    // Arrange
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'manifest' });
    const lines = Array.from({ length: COUNT }, (_, i) => JSON.stringify({ source: `pics/${name(i)}.png`, label: i < 4 ? 'rare' : 'common' }));

    // Act: the images, then the manifest (an annotation file finds only images already stored; see README).
    await store(owner, dataset.base, Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`set/pics/${name(i)}.png`, png(WIDTH, HEIGHT, i)])));
    await store(owner, dataset.base, { 'set/train.ndjson': Buffer.from(lines.join('\n')) });
    const status = await waitFor('the manifest applied', () => importStatus(owner, dataset.base), (s) => reported(s) === 1);
    await waitFor('images as samples', () => sampleCount(owner, dataset.base), (n) => n === COUNT);

    // Assess: every image labelled, and with its size from its own bytes.
    expect(status).toEqual({ files_applied: 1, files_failed: 0, samples: COUNT, annotations: COUNT, failures: [] });
    const samples = await waitFor(
      'every sample with its size',
      () => mapLimit(Array.from({ length: COUNT }, (_, i) => i), 8, (i) => sampleAt(owner, dataset, `set/pics/${name(i)}.png`)),
      (all) => all.every((s) => s.width !== undefined),
    );
    samples.forEach((sample, i) => expect(sample).toMatchObject({ width: WIDTH, height: HEIGHT, annotations: [{ label: i < 4 ? 'rare' : 'common' }] }));
    const stats = (await owner.api.get(`${dataset.base}/stats`)).body;
    expect(stats).toMatchObject({ sample_count: COUNT, labeled_count: COUNT, unlabeled_count: 0 });
  });
});

describe('COCO after its images', () => {
  it('a COCO file uploaded on its own after the images applies; uploading it again re-applies without doubling the figures', async () => {
    // Arrange: images as loose files in images/, until they are samples.
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'coco' });
    await store(owner, dataset.base, Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`images/${name(i)}.png`, png(WIDTH, HEIGHT, i)])));
    await waitFor('images as samples', () => sampleCount(owner, dataset.base), (n) => n === COUNT);
    const coco = {
      images: Array.from({ length: COUNT }, (_, i) => ({ id: i + 1, file_name: `${name(i)}.png`, width: WIDTH, height: HEIGHT })),
      categories: [
        { id: 1, name: 'cat' },
        { id: 2, name: 'dog' },
      ],
      annotations: Array.from({ length: COUNT }, (_, i) => {
        const b = pixelBox(i);
        return { id: i + 1, image_id: i + 1, category_id: (i % 2) + 1, bbox: [b.left, b.top, b.right - b.left, b.bottom - b.top] };
      }),
    };
    const file = Buffer.from(JSON.stringify(coco));

    // Act: the JSON lands at the dataset's root; its file_names are found in images/.
    await formUpload(owner, dataset.base, 'instances.json', file);
    const first = await waitFor('the COCO file applied', () => importStatus(owner, dataset.base), (s) => reported(s) === 1);

    // Assess
    expect(first).toEqual({ files_applied: 1, files_failed: 0, samples: COUNT, annotations: COUNT, failures: [] });
    for (const i of [0, 1, COUNT - 1]) {
      const sample = await sampleAt(owner, dataset, `images/${name(i)}.png`);
      expect(sample.annotations).toEqual([{ label: i % 2 ? 'dog' : 'cat', box: normalised(pixelBox(i)) }]);
    }
    expect(await sampleCount(owner, dataset.base)).toBe(COUNT);

    // Act: the same file again; its re-import rewrites the samples (their revision moves on).
    const paths = Array.from({ length: COUNT }, (_, i) => `images/${name(i)}.png`);
    const revisions = async () => mapLimit(paths, 8, async (path) => (await sampleAt(owner, dataset, path)).revision as number);
    const before = await revisions();
    await formUpload(owner, dataset.base, 'instances.json', file);
    await waitFor('the COCO file re-applied to every sample', revisions, (now) => now.every((r, i) => r > before[i]!));

    // Assess: one file, reported once; the same figures, samples and annotations.
    expect(await importStatus(owner, dataset.base)).toEqual(first);
    expect(await sampleCount(owner, dataset.base)).toBe(COUNT);
    const stats = (await owner.api.get(`${dataset.base}/stats`)).body;
    expect(stats).toMatchObject({ sample_count: COUNT, labeled_count: COUNT, unlabeled_count: 0 });
    const sample = await sampleAt(owner, dataset, `images/${name(1)}.png`);
    expect(sample.annotations).toEqual([{ label: 'dog', box: normalised(pixelBox(1)) }]);
  });
});

describe('images on their own', () => {
  it('an image sent by form upload or in an upload session becomes a sample with its width and height', async () => {
    // Arrange
    const dataset = await newDataset(owner, { type: 'object_detection', format: 'coco' });

    // Act
    await formUpload(owner, dataset.base, 'solo.png', png(33, 17, 1));
    await store(owner, dataset.base, { 'direct/a.png': png(21, 9, 2) });
    await waitFor('both as samples', () => sampleCount(owner, dataset.base), (n) => n === 2);

    // Assess
    const solo = await waitFor('solo.png with its size', () => sampleAt(owner, dataset, 'solo.png'), (s) => s.width !== undefined);
    const direct = await waitFor('direct/a.png with its size', () => sampleAt(owner, dataset, 'direct/a.png'), (s) => s.width !== undefined);
    expect(solo).toMatchObject({ path: 'solo.png', content_type: 'image/png', width: 33, height: 17, size: png(33, 17, 1).length, annotations: [], labels: [] });
    expect(direct).toMatchObject({ path: 'direct/a.png', content_type: 'image/png', width: 21, height: 9, size: png(21, 9, 2).length, annotations: [], labels: [] });
    const listed = (await owner.api.get(`${dataset.base}/sample`)).body.map((s: Json) => s.path);
    expect(listed).toEqual(['direct/a.png', 'solo.png']);
  });

  it('loose files of a folder-per-class dataset get their folder as label', async () => {
    // Arrange
    const dataset = await newDataset(owner, { type: 'image_classification', format: 'default' });
    const files = { 'cats/1.png': png(8, 8, 1), 'cats/2.png': png(8, 8, 2), 'dogs/3.png': png(8, 8, 3), 'pets/dogs/4.png': png(8, 8, 4) };

    // Act
    await store(owner, dataset.base, files);
    await waitFor('all as samples', () => sampleCount(owner, dataset.base), (n) => n === Object.keys(files).length);

    // Assess
    const labels = await mapLimit(Object.keys(files), 4, async (path) => [path, (await sampleAt(owner, dataset, path)).annotations]);
    expect(Object.fromEntries(labels)).toEqual({
      'cats/1.png': [{ label: 'cats' }],
      'cats/2.png': [{ label: 'cats' }],
      'dogs/3.png': [{ label: 'dogs' }],
      'pets/dogs/4.png': [{ label: 'dogs' }],
    });
    expect((await owner.api.get(`${dataset.base}/label`)).body.map((l: Json) => l.name).sort()).toEqual(['cats', 'dogs']);
    const stats = (await owner.api.get(`${dataset.base}/stats`)).body;
    expect(stats).toMatchObject({ sample_count: 4, labeled_count: 4, unlabeled_count: 0 });
  });
});

describe('names that would leave the dataset', () => {
  it("a COCO file or manifest naming another user's file through '..' reaches nothing: reported, no sample, the file untouched", async () => {
    // Arrange: a victim's image, and an attacker who knows its ids.
    const victim = await newUser({ label: 'escape-victim' });
    const attacker = await newUser({ label: 'escape-attacker' });
    const target = await newDataset(victim, { type: 'object_detection', format: 'coco' });
    await store(victim, target.base, { 'images/secret.png': png(WIDTH, HEIGHT, 7) });
    await waitFor('victim sample', () => sampleCount(victim, target.base), (n) => n === 1);
    const coco = await newDataset(attacker, { type: 'object_detection', format: 'coco' });
    const manifest = await newDataset(attacker, { type: 'object_detection', format: 'manifest' });
    const escape = `../../../../${victim.id}/dataset/${target.id}/files/images/secret.png`;
    const cocoFile = {
      images: [{ id: 1, file_name: escape, width: WIDTH, height: HEIGHT }],
      categories: [{ id: 1, name: 'loot' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 4, 4] }],
    };

    // Act
    await store(attacker, coco.base, { 'annotations/steal.json': Buffer.from(JSON.stringify(cocoFile)) });
    await store(attacker, manifest.base, { 'steal.jsonl': Buffer.from(`${JSON.stringify({ source: escape, label: 'loot' })}\n`) });

    // Assess: both files failed on the name, nothing was registered, and the victim's file is intact.
    for (const dataset of [coco, manifest]) {
      const status = await waitFor('import report', () => importStatus(attacker, dataset.base), (s) => reported(s) === 1);
      expect(status).toMatchObject({ files_applied: 0, files_failed: 1 });
      expect(status.failures[0].errors.join(' ')).toMatch(/no stored image/);
      expect(await sampleCount(attacker, dataset.base)).toBe(0);
    }
    const stillThere = await victim.api.get(`${target.base}/file/images/secret.png`);
    expect(stillThere.status).toBe(200);
    expect((await victim.api.get(`${target.base}/stats`)).body.sample_count).toBe(1);
  });
});
