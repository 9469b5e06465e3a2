import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertAnnotations, kittiLabelPath, readBack, type TargetFormat, yoloLabelPath } from '../../worker/formats';
import type { ManifestSample } from '../../worker/manifest';

/**
 * dataset_convert's converters: what they write, read back with the importer's own readers against the
 * same images, gives the same annotations (within rounding), and whatever a format cannot hold is
 * reported as skipped or dropped, never lost silently.
 */
const ID = '00000000-0000-4000-8000-000000000000';

function sample(path: string, annotations: ManifestSample['annotations'], size?: { width: number; height: number }): ManifestSample {
  return {
    id: ID,
    dataset_id: ID,
    path,
    size: 100,
    content_type: path.endsWith('.png') ? 'image/png' : 'image/jpeg',
    ...(size ?? {}),
    annotations,
    labels: [...new Set(annotations.map((a) => a.label))].sort(),
    tags: ['t1'],
    review_state: 'unreviewed',
    created_on: '2025-01-01T00:00:00.000Z',
  };
}

/** Annotations as a format holds them: YOLO and KITTI keep boxes only, KITTI no labels with spaces. */
function expected(format: TargetFormat, s: ManifestSample) {
  return s.annotations.filter((a) => (format === 'yolo' || format === 'kitti' ? a.box : true) && !(format === 'kitti' && /\s/.test(a.label)));
}

function expectSameAnnotations(actual: ManifestSample['annotations'], wanted: ManifestSample['annotations']) {
  expect(actual.map((a) => a.label)).toEqual(wanted.map((a) => a.label));
  actual.forEach((a, i) => {
    const w = wanted[i]!;
    expect(Boolean(a.box)).toBe(Boolean(w.box));
    if (a.box && w.box) for (const k of ['x', 'y', 'w', 'h'] as const) expect(Math.abs(a.box[k] - w.box[k])).toBeLessThan(1e-5);
  });
}

const FORMATS: TargetFormat[] = ['coco', 'yolo', 'kitti', 'manifest'];

// A box inside the image, with some touching the edges (x + w = 1) since rounding bites there.
const box = fc
  .record({ x: fc.double({ min: 0, max: 1, noNaN: true }), y: fc.double({ min: 0, max: 1, noNaN: true }), fw: fc.double({ min: 0, max: 1, noNaN: true }), fh: fc.double({ min: 0, max: 1, noNaN: true }), edge: fc.boolean() })
  .map(({ x, y, fw, fh, edge }) => ({ x, y, w: edge ? 1 - x : (1 - x) * fw, h: (1 - y) * fh }));
const annotation = fc.record({ label: fc.constantFrom('cat', 'dog', 'traffic light', 'person'), box: fc.option(box, { nil: undefined }) }).map((a) => (a.box ? a : { label: a.label }));
const layout = fc.constantFrom((i: number) => `images/train/a${i}.png`, (i: number) => `cats/b${i}.jpg`, (i: number) => `image_2/${i}.png`, (i: number) => `${i}.jpeg`);
const samples = fc
  .array(fc.record({ layout, width: fc.integer({ min: 8, max: 4000 }), height: fc.integer({ min: 8, max: 4000 }), annotations: fc.array(annotation, { maxLength: 6 }) }), { minLength: 1, maxLength: 12 })
  .map((list) => list.map((s, i) => sample(s.layout(i), s.annotations, { width: s.width, height: s.height })));

describe('dataset_convert round trip', () => {
  for (const format of FORMATS) {
    it(`${format}: the importer reads the converted files back into the same annotations`, () => {
      fc.assert(
        fc.property(samples, (input) => {
          // Act
          const conversion = convertAnnotations(format, input);
          const read = readBack(format, conversion.files, input);
          // Assess
          expect(conversion.skipped).toEqual([]);
          expect(conversion.converted.map((s) => s.path)).toEqual(input.map((s) => s.path));
          for (const s of input) expectSameAnnotations(read.get(s.path)!.annotations, expected(format, s));
          const lost = input.reduce((n, s) => n + s.annotations.length - expected(format, s).length, 0);
          expect(conversion.dropped).toHaveLength(lost);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('writes each format in its usual shape: COCO pixels, YOLO centres + classes.txt, KITTI corners, the import manifest', () => {
    // Prepare
    const input = [sample('images/train/a.png', [{ label: 'cat', box: { x: 0.1, y: 0.2, w: 0.5, h: 0.25 } }, { label: 'scene' }], { width: 200, height: 100 })];
    // Act
    const [coco, yolo, kitti, manifest] = FORMATS.map((f) => convertAnnotations(f, input));
    // Assess
    const instances = JSON.parse(coco!.files[0]!.body);
    expect(coco!.files.map((f) => f.path)).toEqual(['instances.json']);
    expect(instances.images).toEqual([{ id: 1, file_name: 'images/train/a.png', width: 200, height: 100 }]);
    expect(instances.categories.map((c: { name: string }) => c.name)).toEqual(['cat', 'scene']);
    expect(instances.annotations[0]).toMatchObject({ image_id: 1, category_id: 1, bbox: [20, 20, 100, 25], area: 2500, iscrowd: 0 });
    expect(instances.annotations[1]).not.toHaveProperty('bbox');
    expect(yolo!.files).toEqual([
      { path: 'classes.txt', body: 'cat\n', contentType: expect.any(String) },
      { path: 'labels/train/a.txt', body: '0 0.350000 0.325000 0.500000 0.250000\n', contentType: expect.any(String) },
    ]);
    expect(kitti!.files).toEqual([{ path: 'images/train/a.txt', body: 'cat 0.00 0 0.00 20.0000 20.0000 120.0000 45.0000 0.00 0.00 0.00 0.00 0.00 0.00 0.00\n', contentType: expect.any(String) }]);
    expect(JSON.parse(manifest!.files[0]!.body)).toEqual({ source: 'images/train/a.png', annotations: input[0]!.annotations, tags: ['t1'] });
    expect(yolo!.dropped).toEqual([{ path: 'images/train/a.png', annotation: 1, label: 'scene', reason: 'YOLO has no whole-image labels' }]);
  });
});

describe('what a format cannot hold is reported', () => {
  it('label files follow the pairing rules the importer uses', () => {
    // Assess
    expect(yoloLabelPath('images/train/a.png')).toBe('labels/train/a.txt');
    expect(yoloLabelPath('data/images/x/images/b.jpg')).toBe('data/images/x/labels/b.txt');
    expect(yoloLabelPath('cats/a.png')).toBe('cats/a.txt');
    expect(kittiLabelPath('image_2/0001.png')).toBe('label_2/0001.txt');
    expect(kittiLabelPath('a.png')).toBe('a.txt');
    expect(yoloLabelPath('noextension')).toBeUndefined();
  });

  it('KITTI and COCO skip images of unknown size; KITTI drops labels with spaces and DontCare', () => {
    // Prepare
    const input = [
      sample('a.png', [{ label: 'cat', box: { x: 0, y: 0, w: 1, h: 1 } }]),
      sample('b.png', [{ label: 'traffic light', box: { x: 0, y: 0, w: 0.5, h: 0.5 } }, { label: 'DontCare', box: { x: 0, y: 0, w: 0.5, h: 0.5 } }], { width: 10, height: 10 }),
    ];
    // Act
    const kitti = convertAnnotations('kitti', input);
    const coco = convertAnnotations('coco', input);
    // Assess
    expect(kitti.skipped).toEqual([{ path: 'a.png', reason: expect.stringMatching(/KITTI needs the image's width and height/) }]);
    expect(coco.skipped).toEqual([{ path: 'a.png', reason: expect.stringMatching(/COCO needs/) }]);
    expect(kitti.dropped.map((d) => [d.label, d.reason])).toEqual([
      ['traffic light', 'KITTI labels cannot contain whitespace'],
      ['DontCare', 'KITTI readers ignore DontCare'],
    ]);
    expect(readBack('kitti', kitti.files, input).get('b.png')!.annotations).toEqual([]);
  });

  it('two images sharing a label file keep the one the importer pairs with it; an unknown extension is skipped', () => {
    // Prepare
    const input = [sample('a.png', []), sample('a.jpg', [{ label: 'cat', box: { x: 0, y: 0, w: 1, h: 1 } }]), sample('c.Jpg', [])];
    // Act
    const yolo = convertAnnotations('yolo', input);
    // Assess: the importer tries .jpg before .png
    expect(yolo.converted.map((s) => s.path)).toEqual(['a.jpg']);
    expect(yolo.skipped).toEqual([
      { path: 'a.png', reason: 'a.txt would be paired with a.jpg, not with this image' },
      { path: 'c.Jpg', reason: expect.stringMatching(/would not pair c.txt/) },
    ]);
    expect(readBack('yolo', yolo.files, input).get('a.jpg')!.annotations).toEqual([{ label: 'cat', box: { x: 0, y: 0, w: 1, h: 1 } }]);
  });

  it('a path the API could not have stored (".." segments, absolute) is skipped, never written as a key', () => {
    // Prepare
    const input = [sample('../../jobs/other/x.png', [], { width: 10, height: 10 }), sample('/abs.png', [], { width: 10, height: 10 }), sample('ok.png', [], { width: 10, height: 10 })];
    for (const format of FORMATS) {
      // Act
      const conversion = convertAnnotations(format, input);
      // Assess
      expect(conversion.skipped.map((s) => s.path)).toEqual(['../../jobs/other/x.png', '/abs.png']);
      expect(conversion.converted.map((s) => s.path)).toEqual(['ok.png']);
    }
  });

  it('annotations the API would refuse are dropped with the reason, in every format', () => {
    // Prepare
    const input = [sample('a.png', [{ label: '', box: { x: 0, y: 0, w: 1, h: 1 } }, { label: 'cat', box: { x: 0.8, y: 0, w: 0.5, h: 1 } }, { label: 'ok' }], { width: 10, height: 10 })];
    for (const format of FORMATS) {
      // Act
      const conversion = convertAnnotations(format, input);
      // Assess
      expect(conversion.dropped.slice(0, 2).map((d) => d.annotation)).toEqual([0, 1]);
      expect(conversion.dropped[0]!.reason).toMatch(/not a valid annotation/);
    }
  });
});
