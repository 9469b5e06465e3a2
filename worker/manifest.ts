import { createHash } from 'node:crypto';
import * as z from 'zod';
import { FilePath } from '../functions/core/schemas/upload';
import type { JobContext } from './context';

/**
 * A dataset version's manifest (functions/core/versions.ts): JSON lines, one sample a line. Read leniently
 * (a line only needs a string `path`), so a validator can report what is wrong with a sample instead of
 * failing on it; the strict rules live in actions/validate.ts.
 */
const LooseBox = z.object({ x: z.number(), y: z.number(), w: z.number(), h: z.number() }).loose();
const LooseAnnotation = z.object({ label: z.string(), box: LooseBox.optional() }).loose();

const ManifestSampleSchema = z
  .object({
    id: z.string().default(''),
    dataset_id: z.string().default(''),
    path: z.string().min(1),
    size: z.number().default(0),
    content_type: z.string().default('application/octet-stream'),
    width: z.number().optional(),
    height: z.number().optional(),
    annotations: z.array(LooseAnnotation).default([]),
    labels: z.array(z.string()).default([]),
    tags: z.array(z.string()).default([]),
    review_state: z.string().default('unreviewed'),
    created_on: z.string().default(''),
  })
  .loose();

export type ManifestSample = z.infer<typeof ManifestSampleSchema>;
export type ManifestAnnotation = ManifestSample['annotations'][number];

export interface ManifestEntry {
  /** 1-based line number in the manifest. */
  line: number;
  sample?: ManifestSample;
  /** Why the line is not a sample, when it is not. */
  error?: string;
}

export interface Manifest {
  key: string;
  sha256: string;
  entries: ManifestEntry[];
  /** The well-formed lines' samples, in manifest order. */
  samples: ManifestSample[];
  /** The lines that are not samples. */
  malformed: ManifestEntry[];
}

export function parseManifest(key: string, bytes: Buffer): Manifest {
  const entries: ManifestEntry[] = [];
  bytes
    .toString('utf8')
    .split('\n')
    .forEach((raw, i) => {
      if (!raw.trim()) return;
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        entries.push({ line: i + 1, error: 'not valid JSON' });
        return;
      }
      const parsed = ManifestSampleSchema.safeParse(json);
      if (parsed.success) entries.push({ line: i + 1, sample: parsed.data });
      else entries.push({ line: i + 1, error: parsed.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ') });
    });
  return {
    key,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    entries,
    samples: entries.flatMap((e) => (e.sample ? [e.sample] : [])),
    malformed: entries.filter((e) => !e.sample),
  };
}

/** Reads the job's input manifest; an unreadable one (missing, S3 failing, other bytes than expected) throws. */
export async function readInputManifest(ctx: Pick<JobContext, 'env' | 'storage' | 'signal' | 'log'>): Promise<Manifest> {
  const key = ctx.env.inputManifest!;
  const bytes = await ctx.storage.get(key, { signal: ctx.signal });
  if (!bytes) throw new Error(`cannot read the input manifest: no object ${key}`);
  const manifest = parseManifest(key, bytes);
  if (ctx.env.inputManifestSha256 && manifest.sha256 !== ctx.env.inputManifestSha256) {
    throw new Error(`the input manifest's SHA-256 is ${manifest.sha256}, expected ${ctx.env.inputManifestSha256}`);
  }
  ctx.log(`manifest ${key}: ${manifest.samples.length} samples${manifest.malformed.length ? `, ${manifest.malformed.length} malformed lines` : ''}`);
  return manifest;
}

/** The distinct labels of annotations, sorted (as the API keeps `labels`). */
export const labelsOf = (annotations: { label: string }[]): string[] => [...new Set(annotations.map((a) => a.label))].sort();

/** One sample as a version-manifest line: the field order versions.ts writes. */
export function manifestLine(s: ManifestSample): string {
  return JSON.stringify({
    id: s.id,
    dataset_id: s.dataset_id,
    path: s.path,
    size: s.size,
    content_type: s.content_type,
    ...(s.width ? { width: s.width } : {}),
    ...(s.height ? { height: s.height } : {}),
    annotations: s.annotations,
    labels: s.labels,
    tags: s.tags,
    review_state: s.review_state,
    created_on: s.created_on,
  });
}

export const manifestText = (samples: ManifestSample[]): string => samples.map((s) => `${manifestLine(s)}\n`).join('');

/**
 * Whether a sample path is one the API could have stored: relative, no '.', '..' or empty segments. Only
 * such paths become S3 keys (an HTTP client would resolve '..' in a key's URL into another prefix).
 */
export const isSafePath = (path: string): boolean => FilePath.safeParse(path).success;

/** The input's file of a sample (callers check isSafePath first). */
export function fileKey(ctx: Pick<JobContext, 'env'>, path: string): string {
  if (!isSafePath(path)) throw new Error(`refusing the unsafe sample path ${JSON.stringify(path)}`);
  return `${ctx.env.inputPrefix}files/${path}`;
}
