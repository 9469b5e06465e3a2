import { createHash } from 'node:crypto';
import * as z from 'zod';
import { isPng } from '../png';
import { type JobContext, mapLimited, progressReporter } from '../context';
import { isSafePath, parseManifest } from '../manifest';
import { modelInputOf } from './pixels';

/**
 * A model job's inputs (CONTRACT.md): the orchestrator writes them as JSON at TRAINYARD_MODEL_INPUTS: the
 * dataset versions it reads, by role, and the model it starts from. Images are read here and turned
 * into the model's input.
 */
const DatasetInput = z.object({
  role: z.enum(['train', 'eval', 'inference']),
  dataset_id: z.string(),
  version_id: z.string(),
  prefix: z.string().endsWith('/'),
  manifest: z.string(),
  manifest_sha256: z.string().optional(),
});
export type DatasetInput = z.infer<typeof DatasetInput>;

export const ModelInputs = z.object({
  model_id: z.string(),
  network_arch: z.string(),
  /** TAO's choice of the model train leaves: the best epoch by val_accuracy (default) or the last one. */
  checkpoint_choose_method: z.string().default('best_model'),
  datasets: z.array(DatasetInput),
  /** The model to start from: a parent job's artifacts/model/, or the one recorded on the model. */
  source: z.object({ job_id: z.string(), action: z.string(), prefix: z.string().endsWith('/') }).nullable(),
});
export type ModelInputs = z.infer<typeof ModelInputs>;

export async function readModelInputs(ctx: Pick<JobContext, 'env' | 'storage' | 'signal'>): Promise<ModelInputs> {
  const key = ctx.env.modelInputsKey;
  if (!key) throw new Error('TRAINYARD_MODEL_INPUTS is not set');
  const text = await ctx.storage.getText(key, { signal: ctx.signal });
  if (!text) throw new Error(`no model inputs at ${key}`);
  return ModelInputs.parse(JSON.parse(text));
}

export const datasetsFor = (inputs: ModelInputs, role: DatasetInput['role']) => inputs.datasets.filter((d) => d.role === role);

export interface Example {
  sampleId: string;
  datasetId: string;
  path: string;
  /** The sample's one label; undefined when it has none (or several, which a classifier cannot learn). */
  label?: string;
  labelCount: number;
  pixels: Float32Array;
}

export interface Skipped {
  path: string;
  reason: string;
}

/**
 * Every PNG sample of the datasets as model input (side × side greyscale). `which` picks the samples:
 * labelled ones (one label each), unlabelled ones, or all. Anything unreadable is skipped with its reason.
 */
export async function loadExamples(
  ctx: JobContext,
  datasets: DatasetInput[],
  side: number,
  which: 'labelled' | 'unlabelled' | 'all',
): Promise<{ examples: Example[]; skipped: Skipped[] }> {
  const skipped: Skipped[] = [];
  const wanted: { dataset: DatasetInput; sampleId: string; path: string; labels: string[] }[] = [];
  for (const dataset of datasets) {
    const bytes = await ctx.storage.get(dataset.manifest, { signal: ctx.signal });
    if (!bytes) throw new Error(`cannot read the manifest of dataset ${dataset.dataset_id}: no object ${dataset.manifest}`);
    const manifest = parseManifest(dataset.manifest, bytes);
    if (dataset.manifest_sha256 && manifest.sha256 !== dataset.manifest_sha256) throw new Error(`the manifest ${dataset.manifest} has other bytes than its version recorded`);
    for (const sample of manifest.samples) {
      const labels = [...new Set(sample.labels.length ? sample.labels : sample.annotations.map((a) => a.label))];
      if (which === 'labelled' && labels.length !== 1) {
        if (labels.length > 1) skipped.push({ path: sample.path, reason: `${labels.length} labels: a classifier learns one per image` });
        continue;
      }
      if (which === 'unlabelled' && labels.length) continue;
      if (!isSafePath(sample.path)) {
        skipped.push({ path: sample.path, reason: 'not a path the API could have stored' });
        continue;
      }
      wanted.push({ dataset, sampleId: sample.id, path: sample.path, labels });
    }
    ctx.log(`dataset ${dataset.dataset_id} version ${dataset.version_id}: ${manifest.samples.length} samples`);
  }
  const tick = progressReporter(ctx, 'read', wanted.length, 'images');
  const loaded = await mapLimited(wanted, 16, ctx.signal, async (item): Promise<Example | undefined> => {
    const bytes = await ctx.storage.get(`${item.dataset.prefix}files/${item.path}`, { signal: ctx.signal });
    tick();
    if (!bytes) return void skipped.push({ path: item.path, reason: 'the file is missing' });
    if (!isPng(bytes)) return void skipped.push({ path: item.path, reason: 'not a PNG (the reference model reads PNG only)' });
    try {
      return { sampleId: item.sampleId, datasetId: item.dataset.dataset_id, path: item.path, label: item.labels.length === 1 ? item.labels[0] : undefined, labelCount: item.labels.length, pixels: modelInputOf(bytes, side) };
    } catch (error) {
      skipped.push({ path: item.path, reason: `unreadable PNG: ${(error as Error).message}` });
      return undefined;
    }
  });
  const examples = loaded.filter((e): e is Example => e !== undefined);
  ctx.log(`read ${examples.length} images${skipped.length ? `, skipped ${skipped.length}` : ''}`);
  return { examples, skipped };
}

/** Whether a sample is held out for validation: a stable hash of the seed and its id, so the split never changes between runs. */
export function isHeldOut(sampleId: string, seed: number, fraction: number): boolean {
  const hash = createHash('sha256').update(`${seed}:${sampleId}`).digest();
  return hash.readUInt32BE(0) / 2 ** 32 < fraction;
}
