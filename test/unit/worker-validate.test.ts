import { describe, expect, it } from 'vitest';
import { analyse } from '../../worker/actions/analyze';
import { flipAnnotation, flippedPath, parseAugmentSpec } from '../../worker/actions/augment';
import { checkFile, checkRecord, summarise } from '../../worker/actions/validate';
import { InvalidInvocation, readJobEnv } from '../../worker/env';
import { type ManifestSample, parseManifest } from '../../worker/manifest';
import { encodePng } from '../../worker/png';

/**
 * The worker's pure rules: what validate calls a problem (and how bad), what analyze counts, how augment
 * moves annotations, and which environments are a valid invocation.
 */
const ID = '00000000-0000-4000-8000-000000000000';

function sample(fields: Partial<ManifestSample> = {}): ManifestSample {
  return {
    id: ID,
    dataset_id: ID,
    path: 'images/a.png',
    size: 67,
    content_type: 'image/png',
    width: 4,
    height: 2,
    annotations: [{ label: 'cat', box: { x: 0.25, y: 0, w: 0.5, h: 1 } }],
    labels: ['cat'],
    tags: [],
    review_state: 'unreviewed',
    created_on: '2025-01-01T00:00:00.000Z',
    ...fields,
  };
}

/** A real black greyscale PNG of the given size (the worker's own encoder). */
const png = (width: number, height: number): Buffer =>
  encodePng({ width, height, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels: Buffer.alloc(width * height), chunks: [] });

const codes = (found: { code: string; severity: string }[]) => found.map((f) => `${f.severity}:${f.code}`);

describe('validate rules', () => {
  it('a sound sample has no problems', () => {
    // Prepare
    const file = png(4, 2);
    // Act / Assess
    expect(checkRecord(sample())).toEqual([]);
    expect(checkFile(sample({ size: file.length }), { bytes: file, size: file.length })).toEqual([]);
  });

  it('boxes outside [0,1], non-finite values and bad labels are errors naming the annotation; zero-area boxes are warnings', () => {
    // Prepare
    const s = sample({
      annotations: [
        { label: 'cat', box: { x: 0.6, y: 0, w: 0.5, h: 1 } },
        { label: 'cat', box: { x: -0.1, y: 0, w: 0.5, h: 1 } },
        { label: '', box: { x: 0, y: 0, w: 0.5, h: 0.5 } },
        { label: 'a/b' },
        { label: 'cat', box: { x: 0, y: 0, w: Number.NaN, h: 1 } },
        { label: 'cat', box: { x: 0.5, y: 0.5, w: 0, h: 0.2 } },
        { label: 'cat', box: { x: 0, y: 0, w: 1 + 5e-7, h: 1 } },
      ],
      labels: ['a/b', 'cat', ''].sort(),
    });
    // Act
    const found = checkRecord(s);
    // Assess
    expect(found.map((f) => [f.annotation, `${f.severity}:${f.code}`])).toEqual([
      [0, 'error:bad_box'],
      [1, 'error:bad_box'],
      [2, 'error:bad_label'],
      [3, 'error:bad_label'],
      [4, 'error:bad_box'],
      [5, 'warning:empty_box'],
    ]);
  });

  it('missing dimensions, labels out of step with annotations and a bad path are reported', () => {
    // Act
    const found = checkRecord(sample({ width: undefined, height: undefined, labels: ['dog'], path: '../escape.png' }));
    // Assess
    expect(codes(found)).toEqual(['error:bad_path', 'warning:no_dimensions', 'warning:labels_mismatch']);
  });

  it('the file: missing, another size, unreadable header, other dimensions, another type', () => {
    // Prepare
    const file = png(4, 2);
    // Act / Assess
    expect(codes(checkFile(sample(), undefined))).toEqual(['error:missing_file']);
    expect(codes(checkFile(sample({ size: 1 }), { bytes: file, size: file.length }))).toEqual(['error:size_mismatch']);
    expect(codes(checkFile(sample({ size: 5 }), { bytes: Buffer.from('hello'), size: 5 }))).toEqual(['error:unreadable_image']);
    expect(codes(checkFile(sample({ size: 0 }), { bytes: Buffer.alloc(0), size: 0 }))).toEqual(['error:unreadable_image']);
    expect(codes(checkFile(sample({ size: file.length, width: 5 }), { bytes: file, size: file.length }))).toEqual(['error:dimension_mismatch']);
    expect(codes(checkFile(sample({ size: file.length, content_type: 'image/jpeg' }), { bytes: file, size: file.length }))).toEqual(['warning:content_type_mismatch']);
  });

  it('the report counts samples with an error as invalid, warnings apart, malformed lines and duplicates too', () => {
    // Prepare
    const lines = [JSON.stringify(sample()), '{not json', JSON.stringify({ id: ID }), JSON.stringify(sample()), JSON.stringify(sample({ path: 'b.png' }))];
    const manifest = parseManifest('m.jsonl', Buffer.from(`${lines.join('\n')}\n`));
    const perEntry = [[], [], [], [], [{ code: 'missing_file', severity: 'error' as const, message: 'x' }]];
    // Act
    const report = summarise(manifest, perEntry);
    // Assess
    expect(report).toMatchObject({ samples: 5, valid: 2, invalid: 3, warnings: 1, by_code: { bad_line: 2, duplicate_path: 1, missing_file: 1 }, problems_left_off: 0 });
    expect(report.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'bad_line'],
      [3, 'bad_line'],
      [4, 'duplicate_path'],
      [5, 'missing_file'],
    ]);
  });
});

describe('analyze', () => {
  it('counts samples and boxes per label, image sizes, box sizes and the unlabeled', () => {
    // Prepare
    const manifest = parseManifest(
      'm.jsonl',
      Buffer.from(
        [
          sample({ annotations: [{ label: 'cat', box: { x: 0, y: 0, w: 0.5, h: 0.5 } }, { label: 'cat', box: { x: 0.5, y: 0.5, w: 0.5, h: 0.5 } }, { label: 'dog' }], width: 100, height: 100 }),
          sample({ annotations: [{ label: 'dog', box: { x: 0, y: 0, w: 1, h: 1 } }], width: 20, height: 10 }),
          sample({ annotations: [], width: undefined, height: undefined }),
        ]
          .map((s) => JSON.stringify(s))
          .join('\n'),
      ),
    );
    // Act
    const a = analyse(manifest);
    // Assess
    expect(a).toMatchObject({ samples: 3, labeled: 2, unlabeled: 1, malformed_lines: 0 });
    expect(a.labels).toEqual([
      { label: 'dog', samples: 2, boxes: 1, whole_image: 1 },
      { label: 'cat', samples: 1, boxes: 2, whole_image: 0 },
    ]);
    expect(a.image_sizes).toMatchObject({ known: 2, unknown: 1, width: { min: 20, max: 100, mean: 60 } });
    expect(a.boxes).toMatchObject({ count: 3, per_image: { mean: 1, max: 2 }, w: { min: 0.5, max: 1, median: 0.5 }, pixel_area_classes: { small: 1, medium: 2, large: 0, unknown: 0 } });
  });
});

describe('augment', () => {
  it('flips boxes with the image and names the copies beside the original', () => {
    // Act / Assess
    expect(flipAnnotation({ label: 'cat', box: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } }, 'horizontal').box).toEqual({ x: expect.closeTo(0.6, 12), y: 0.2, w: 0.3, h: 0.4 });
    expect(flipAnnotation({ label: 'cat', box: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } }, 'vertical').box!.y).toBeCloseTo(0.4, 12);
    expect(flipAnnotation({ label: 'cat', box: { x: 0, y: 0, w: 1 + 1e-7, h: 1 } }, 'horizontal').box!.x).toBe(0);
    expect(flipAnnotation({ label: 'scene' }, 'horizontal')).toEqual({ label: 'scene' });
    expect(flippedPath('images/a.PNG', 'horizontal')).toBe('images/a_flip_h.png');
    expect(flippedPath('b.png', 'vertical')).toBe('b_flip_v.png');
    expect(() => parseAugmentSpec({})).toThrow(/at least one/);
    expect(parseAugmentSpec({ flip_horizontal: true, flip_vertical: true })).toEqual(['horizontal', 'vertical']);
  });
});

describe('the environment', () => {
  const base = { TRAINYARD_JOB_ID: 'job-1', TRAINYARD_BUCKET: 'trainyard-local', TRAINYARD_INPUT_PREFIX: 'u/x/dataset/y/', TRAINYARD_INPUT_MANIFEST: 'u/x/dataset/y/versions/v/manifest.jsonl' };

  it('defaults the prefixes from the job id, and takes Batch\'s attempt over TRAINYARD_ATTEMPT', () => {
    // Act
    const env = readJobEnv({ ...base, TRAINYARD_ACTION: 'validate', TRAINYARD_ATTEMPT: '1', AWS_BATCH_JOB_ATTEMPT: '3' });
    // Assess
    expect(env).toMatchObject({ jobId: 'job-1', action: 'validate', attempt: 3, outputPrefix: 'jobs/job-1/', checkpointPrefix: 'jobs/job-1/checkpoints/', region: 'us-east-1' });
  });

  it('an unknown action, a dataset action without its input, or a prefix without "/" is an invalid invocation that still knows where to report', () => {
    // Act / Assess
    for (const env of [
      { ...base, TRAINYARD_ACTION: 'dance' },
      { ...base, TRAINYARD_ACTION: 'validate', TRAINYARD_INPUT_MANIFEST: '' },
      { ...base, TRAINYARD_ACTION: 'analyze', TRAINYARD_INPUT_PREFIX: 'u/x' },
    ]) {
      let error: unknown;
      try {
        readJobEnv(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InvalidInvocation);
      expect((error as InvalidInvocation).partial).toMatchObject({ jobId: 'job-1', bucket: 'trainyard-local', outputPrefix: 'jobs/job-1/' });
    }
    expect(readJobEnv({ TRAINYARD_JOB_ID: 'j', TRAINYARD_BUCKET: 'bkt', TRAINYARD_ACTION: 'sleep' }).action).toBe('sleep');
  });
});
