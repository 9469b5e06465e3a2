import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sampleIdFor } from '../../functions/core/entities/sample';
import { formUpload, png, tarball } from './dataset-files';
import { type Api, type Json, newUser, waitFor as waitUntil } from './helpers';

/**
 * Acceptance: an archive of 2,000 small images with their COCO (or YOLO) annotations becomes samples with
 * the right annotations; an entry that would escape the dataset and a malformed annotation file are
 * reported and not applied.
 */
const IMAGES = 2000;
const WIDTH = 40;
const HEIGHT = 20;
const CLASSES = ['cat', 'dog', 'bird'];

/** Image i carries (i % 3) + 1 boxes, of classes i, i+1, …; box k sits at (2k, 1) and is 4×2 pixels. */
const boxesOf = (i: number) => Array.from({ length: (i % 3) + 1 }, (_, k) => ({ label: CLASSES[(i + k) % 3]!, left: 2 * k, top: 1, width: 4, height: 2 }));

/** The figures the annotations above must produce. */
function expectedLabels() {
  const samples = new Map<string, number>();
  const annotations = new Map<string, number>();
  for (let i = 0; i < IMAGES; i++) {
    const boxes = boxesOf(i);
    for (const b of boxes) annotations.set(b.label, (annotations.get(b.label) ?? 0) + 1);
    for (const label of new Set(boxes.map((b) => b.label))) samples.set(label, (samples.get(label) ?? 0) + 1);
  }
  return CLASSES.map((name) => ({ name, samples: samples.get(name)!, annotations: annotations.get(name)! })).sort((a, b) => b.samples - a.samples || a.name.localeCompare(b.name));
}

const name = (i: number) => `img_${String(i).padStart(5, '0')}`;

const waitFor = <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 90_000) => waitUntil(what, read, done, timeoutMs, 250);

/** Waits until the dataset has every image as a sample and every annotation file reported. */
async function settled(api: Api, base: string, annotationFiles: number) {
  await waitFor('archive report', async () => (await api.get(base)).body.import_status.archives[0], Boolean);
  await waitFor('all samples', async () => (await api.get(`${base}/stats`)).body.sample_count, (n) => n === IMAGES);
  const dataset = await waitFor(
    'annotation reports',
    async () => (await api.get(base)).body as Json,
    (d) => d.import_status.annotations.files_applied + d.import_status.annotations.files_failed === annotationFiles,
  );
  return { dataset, stats: (await api.get(`${base}/stats`)).body };
}

describe('annotation import from an archive of 2,000 images', () => {
  it('COCO: every image becomes a sample with its boxes; a zip-slip entry and a malformed COCO file are reported, not applied', { timeout: 180_000 }, async () => {
    // Arrange
    const owner = await newUser({ label: 'coco-import' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'object_detection', format: 'coco' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const images = Array.from({ length: IMAGES }, (_, i) => ({ name: `images/${name(i)}.png`, data: png(WIDTH, HEIGHT, i) }));
    let annotationId = 1;
    const coco = {
      images: images.map((_, i) => ({ id: i + 1, file_name: `${name(i)}.png`, width: WIDTH, height: HEIGHT })),
      categories: CLASSES.map((c, i) => ({ id: i + 1, name: c })),
      annotations: images.flatMap((_, i) => boxesOf(i).map((b) => ({ id: annotationId++, image_id: i + 1, category_id: CLASSES.indexOf(b.label) + 1, bbox: [b.left, b.top, b.width, b.height] }))),
    };
    // Well-formed JSON, but its second annotation names a category that does not exist: nothing of it may apply.
    const broken = {
      images: [{ id: 1, file_name: `${name(0)}.png`, width: WIDTH, height: HEIGHT }],
      categories: [{ id: 1, name: 'zebra' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 40, 20] },
        { id: 2, image_id: 1, category_id: 9, bbox: [0, 0, 1, 1] },
      ],
    };
    const archive = gzipSync(
      await tarball([
        ...images,
        { name: 'annotations/instances.json', data: Buffer.from(JSON.stringify(coco)) },
        { name: 'annotations/broken.json', data: Buffer.from(JSON.stringify(broken)) },
        { name: '../escaped.png', data: png(2, 2) },
      ]),
    );

    // Act
    await formUpload(owner, base, 'coco.tar.gz', archive);
    const { dataset: settledDataset, stats } = await settled(owner.api, base, 2);

    // Assess: the archive report names the escaping entry; the broken file is a failure, reported.
    expect(settledDataset.import_status.archives[0]).toMatchObject({ archive: 'coco.tar.gz', status: 'unpacked', files: IMAGES + 2 });
    expect(settledDataset.import_status.archives[0].refused).toEqual([{ entry: '../escaped.png', reason: expect.stringContaining('refused') }]);
    expect(settledDataset.import_status.annotations).toMatchObject({ files_applied: 1, files_failed: 1, samples: IMAGES, annotations: coco.annotations.length });
    expect(settledDataset.import_status.annotations.failures).toEqual([
      { file: 'annotations/broken.json', format: 'coco', errors: [expect.stringContaining('category_id 9')], finished_on: expect.any(String) },
    ]);
    // Figures: every image a sample, each labeled, per-label counts exact, and no trace of "zebra".
    expect(stats).toMatchObject({ sample_count: IMAGES, labeled_count: IMAGES, unlabeled_count: 0 });
    expect(stats.labels).toEqual(expectedLabels());
    expect((await owner.api.get(`${base}/label`)).body.map((l: Json) => l.name).sort()).toEqual([...CLASSES].sort());
    // Samples carry their boxes, normalised to the image, and the image size read from its bytes.
    for (const i of [0, 1, 2, 1234, IMAGES - 1]) {
      const sample = (await owner.api.get(`${base}/sample/${sampleIdFor(dataset.id, `images/${name(i)}.png`)}`)).body;
      expect(sample).toMatchObject({ path: `images/${name(i)}.png`, content_type: 'image/png', width: WIDTH, height: HEIGHT });
      expect(sample.annotations).toEqual(boxesOf(i).map((b) => ({ label: b.label, box: { x: b.left / WIDTH, y: b.top / HEIGHT, w: b.width / WIDTH, h: b.height / HEIGHT } })));
    }
    const dogs = await owner.api.get(`${base}/sample?label=dog&size=1`);
    expect(Number(dogs.headers.get('x-pagination-total'))).toBe(expectedLabels().find((l) => l.name === 'dog')!.samples);
    expect(Number((await owner.api.get(`${base}/sample?label=zebra&size=1`)).headers.get('x-pagination-total'))).toBe(0);
  });

  it('YOLO: label files beside images/ find their images and class names; a malformed label file is reported and leaves its image unannotated', { timeout: 180_000 }, async () => {
    // Arrange
    const owner = await newUser({ label: 'yolo-import' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'object_detection', format: 'yolo' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const BAD = 7;
    const entries = Array.from({ length: IMAGES }, (_, i) => {
      const lines =
        i === BAD
          ? ['0 0.5 0.5 0.2 0.2', '5 0.5 0.5 0.2 0.2'] // the first line is fine; the second names class 5 of 3
          : boxesOf(i).map((b) => `${CLASSES.indexOf(b.label)} ${(b.left + b.width / 2) / WIDTH} ${(b.top + b.height / 2) / HEIGHT} ${b.width / WIDTH} ${b.height / HEIGHT}`);
      return [
        { name: `images/train/${name(i)}.png`, data: png(WIDTH, HEIGHT, i) },
        { name: `labels/train/${name(i)}.txt`, data: Buffer.from(`${lines.join('\n')}\n`) },
      ];
    }).flat();
    const dataYaml = `path: .\ntrain: images/train\nnames:\n  0: cat\n  1: dog\n  2: bird\n`;

    // Act
    await formUpload(owner, base, 'yolo.tar.gz', gzipSync(await tarball([{ name: 'data.yaml', data: Buffer.from(dataYaml) }, ...entries])));
    const { dataset: settledDataset, stats } = await settled(owner.api, base, IMAGES);

    // Assess
    const expectedAnnotations = Array.from({ length: IMAGES }, (_, i) => (i === BAD ? 0 : boxesOf(i).length)).reduce((a, b) => a + b, 0);
    expect(settledDataset.import_status.annotations).toMatchObject({ files_applied: IMAGES - 1, files_failed: 1, samples: IMAGES - 1, annotations: expectedAnnotations });
    expect(settledDataset.import_status.annotations.failures).toEqual([
      { file: `labels/train/${name(BAD)}.txt`, format: 'yolo', errors: ['line 2: class 5 is not among the 3 class names'], finished_on: expect.any(String) },
    ]);
    expect(stats).toMatchObject({ sample_count: IMAGES, labeled_count: IMAGES - 1, unlabeled_count: 1 });
    const bad = (await owner.api.get(`${base}/sample/${sampleIdFor(dataset.id, `images/train/${name(BAD)}.png`)}`)).body;
    expect(bad.annotations).toEqual([]); // its good first line was not applied either
    const sample = (await owner.api.get(`${base}/sample/${sampleIdFor(dataset.id, `images/train/${name(5)}.png`)}`)).body;
    const close = (box: Json) => Object.fromEntries(Object.entries(box).map(([k, v]) => [k, Math.round((v as number) * 1e6) / 1e6]));
    expect(sample.annotations.map((a: Json) => ({ label: a.label, box: close(a.box) }))).toEqual(
      boxesOf(5).map((b) => ({ label: b.label, box: close({ x: b.left / WIDTH, y: b.top / HEIGHT, w: b.width / WIDTH, h: b.height / HEIGHT }) })),
    );
    const unlabeled = (await owner.api.get(`${base}/sample?labeled=false`)).body;
    expect(unlabeled.map((s: Json) => s.path)).toEqual([`images/train/${name(BAD)}.png`]);
  });
});
