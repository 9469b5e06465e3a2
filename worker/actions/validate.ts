import { FilePath } from '../../functions/core/schemas/upload';
import { LabelName } from '../../functions/core/schemas/sample';
import { type ActionResult, type JobContext, mapLimited, progressReporter } from '../context';
import { HEADER_BYTES, readImageHeader } from '../images';
import { fileKey, labelsOf, type Manifest, type ManifestSample, readInputManifest } from '../manifest';

/**
 * validate: does every sample of the version hold up? Its file is there with the recorded size, its image
 * header reads with the recorded width and height, its annotations have valid labels and boxes inside
 * the image. The report is the result: problems make it say so, not fail (CONTRACT.md).
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  line: number;
  sample_id?: string;
  path?: string;
  code: string;
  severity: Severity;
  message: string;
  annotation?: number;
}

/** The slack the API's Box schema allows on x + w and y + h. */
const EDGE_SLACK = 1e-6;
const MAX_PROBLEMS = 10_000;
const IN_FLIGHT = 16;

type Found = Omit<Problem, 'line' | 'sample_id' | 'path'>;

const error = (code: string, message: string, annotation?: number): Found => ({ code, severity: 'error', message, ...(annotation !== undefined ? { annotation } : {}) });
const warning = (code: string, message: string, annotation?: number): Found => ({ code, severity: 'warning', message, ...(annotation !== undefined ? { annotation } : {}) });

/** What a manifest line alone says (no storage): its path, annotations and the labels beside them. */
export function checkRecord(sample: ManifestSample): Found[] {
  const found: Found[] = [];
  const path = FilePath.safeParse(sample.path);
  if (!path.success) found.push(error('bad_path', `the path is not a valid dataset path: ${path.error.issues[0]?.message}`));
  if (!sample.width || !sample.height) found.push(warning('no_dimensions', 'no width and height are recorded'));
  sample.annotations.forEach((a, i) => {
    const label = LabelName.safeParse(a.label);
    if (!label.success || label.data !== a.label) found.push(error('bad_label', `annotation ${i}: the label ${JSON.stringify(a.label)} is not a valid label name (empty, untrimmed, slashes or control characters)`, i));
    if (!a.box) return;
    const { x, y, w, h } = a.box;
    if (![x, y, w, h].every((v) => typeof v === 'number' && Number.isFinite(v))) return found.push(error('bad_box', `annotation ${i}: the box has a value that is not a finite number`, i));
    if (x < 0 || y < 0 || w < 0 || h < 0 || x + w > 1 + EDGE_SLACK || y + h > 1 + EDGE_SLACK) {
      return found.push(error('bad_box', `annotation ${i}: the box ${JSON.stringify({ x, y, w, h })} does not lie inside the image (x, y, w, h >= 0, x + w <= 1, y + h <= 1)`, i));
    }
    if (w === 0 || h === 0) found.push(warning('empty_box', `annotation ${i}: the box has no area`, i));
  });
  const expected = labelsOf(sample.annotations);
  const recorded = [...sample.labels].sort();
  if (expected.join('\0') !== recorded.join('\0')) found.push(warning('labels_mismatch', `labels ${JSON.stringify(sample.labels)} differ from the annotations' labels ${JSON.stringify(expected)}`));
  return found;
}

/** What the stored file says: there, of the recorded size, with a readable header of the recorded size. */
export function checkFile(sample: ManifestSample, stored: { bytes: Buffer; size: number } | undefined): Found[] {
  if (!stored) return [error('missing_file', 'the file is not in storage')];
  const found: Found[] = [];
  if (stored.size !== sample.size) found.push(error('size_mismatch', `the file has ${stored.size} bytes, the manifest says ${sample.size}`));
  const header = readImageHeader(stored.bytes);
  if ('error' in header) return [...found, error('unreadable_image', header.error)];
  if (sample.width && sample.height && (header.width !== sample.width || header.height !== sample.height)) {
    found.push(error('dimension_mismatch', `the image is ${header.width}x${header.height}, the manifest says ${sample.width}x${sample.height}`));
  }
  if (header.mime && sample.content_type !== header.mime) found.push(warning('content_type_mismatch', `the file is ${header.mime}, recorded as ${sample.content_type}`));
  return found;
}

export interface ValidationReport {
  manifest: string;
  checked_on: string;
  samples: number;
  valid: number;
  invalid: number;
  warnings: number;
  by_code: Record<string, number>;
  problems: Problem[];
  problems_left_off: number;
}

/** The report from every line's problems (`perLine` in manifest order, as the entries). */
export function summarise(manifest: Pick<Manifest, 'key' | 'entries'>, perEntry: Found[][]): ValidationReport {
  const problems: Problem[] = [];
  const byCode: Record<string, number> = {};
  let invalid = 0;
  let warnings = 0;
  const seen = new Set<string>();
  manifest.entries.forEach((entry, i) => {
    const found = [...(entry.sample ? [] : [error('bad_line', `not a sample: ${entry.error}`)]), ...(perEntry[i] ?? [])];
    if (entry.sample) {
      if (seen.has(entry.sample.path)) found.push(warning('duplicate_path', 'an earlier line has the same path'));
      seen.add(entry.sample.path);
    }
    if (found.some((f) => f.severity === 'error')) invalid++;
    for (const f of found) {
      byCode[f.code] = (byCode[f.code] ?? 0) + 1;
      if (f.severity === 'warning') warnings++;
      problems.push({ line: entry.line, ...(entry.sample ? { sample_id: entry.sample.id, path: entry.sample.path } : {}), ...f });
    }
  });
  return {
    manifest: manifest.key,
    checked_on: new Date().toISOString(),
    samples: manifest.entries.length,
    valid: manifest.entries.length - invalid,
    invalid,
    warnings,
    by_code: byCode,
    problems: problems.slice(0, MAX_PROBLEMS),
    problems_left_off: Math.max(0, problems.length - MAX_PROBLEMS),
  };
}

export async function validate(ctx: JobContext): Promise<ActionResult> {
  const manifest = await readInputManifest(ctx);
  const tick = progressReporter(ctx, 'validated', manifest.entries.length);
  const perEntry = await mapLimited(manifest.entries, IN_FLIGHT, ctx.signal, async (entry) => {
    const sample = entry.sample;
    if (!sample) return (tick(), []);
    const record = checkRecord(sample);
    // A path the API would not have stored cannot name a file: no storage call for it.
    const file = record.some((f) => f.code === 'bad_path') ? [] : checkFile(sample, await ctx.storage.getHead(fileKey(ctx, sample.path), HEADER_BYTES, { signal: ctx.signal }));
    tick();
    return [...file, ...record];
  });
  const report = summarise(manifest, perEntry);
  await ctx.storage.putJson(ctx.output('artifacts/validation.json'), report, { signal: ctx.signal });
  const codes = Object.entries(report.by_code).sort(([a], [b]) => a.localeCompare(b));
  for (const [code, count] of codes) ctx.log(`${code}: ${count}`);
  const message = `${report.valid} of ${report.samples} samples valid, ${report.invalid} invalid, ${report.warnings} warnings`;
  ctx.log(message);
  return {
    status: 'Done',
    exitCode: 0,
    message,
    stats: [
      { metric: 'samples', value: report.samples },
      { metric: 'valid', value: report.valid },
      { metric: 'invalid', value: report.invalid },
      { metric: 'warnings', value: report.warnings },
    ],
    categorical: [{ metric: 'problems_per_code', category_wise_values: codes.map(([category, value]) => ({ category, value })) }],
  };
}
