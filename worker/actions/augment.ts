import * as z from 'zod';
import { sampleIdFor } from '../../functions/core/entities/sample';
import { type ActionResult, InvalidSpec, type JobContext, mapLimited, parseSpec, progressReporter } from '../context';
import { fileKey, isSafePath, labelsOf, type ManifestAnnotation, type ManifestSample, manifestText, readInputManifest } from '../manifest';
import { decodePng, encodePng, type Flip, flipImage, isPng, PngError, type PngImage } from '../png';

/**
 * augment: flipped copies of the version's PNG images, with their annotations flipped to match, under
 * artifacts/augmented/files/ (laid out as the dataset's files/), and a version manifest of the originals
 * plus the new samples. Images this worker cannot flip are listed as skipped, with the reason.
 */
const Spec = z.object({ flip_horizontal: z.boolean().optional(), flip_vertical: z.boolean().optional() });
/** Decoded images are held in memory: few at a time. */
const IN_FLIGHT = 4;
const SUFFIX: Record<Flip, string> = { horizontal: '_flip_h', vertical: '_flip_v' };
export const AUGMENTED_TAG = 'augmented';

export function parseAugmentSpec(spec: unknown): Flip[] {
  const parsed = parseSpec(Spec, spec);
  const flips: Flip[] = [...(parsed.flip_horizontal ? ['horizontal' as const] : []), ...(parsed.flip_vertical ? ['vertical' as const] : [])];
  if (!flips.length) throw new InvalidSpec('spec: ask for at least one augmentation (flip_horizontal or flip_vertical: true)');
  return flips;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** An annotation as it lies on the flipped image; whole-image labels are unchanged. */
export function flipAnnotation(a: ManifestAnnotation, flip: Flip): ManifestAnnotation {
  if (!a.box) return { label: a.label };
  const { x, y, w, h } = a.box;
  return { label: a.label, box: flip === 'horizontal' ? { x: clamp01(1 - x - w), y, w, h } : { x, y: clamp01(1 - y - h), w, h } };
}

/** Where the flipped copy of `path` goes (dataset-relative): `{dir}/{stem}_flip_h.png`. */
export function flippedPath(path: string, flip: Flip): string {
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return `${path.slice(0, slash + 1)}${stem}${SUFFIX[flip]}.png`;
}

const looksLikePng = (s: ManifestSample) => s.content_type === 'image/png' || /\.png$/i.test(s.path);

export async function augment(ctx: JobContext): Promise<ActionResult> {
  const flips = parseAugmentSpec(ctx.spec);
  const manifest = await readInputManifest(ctx);
  const existing = new Set(manifest.samples.map((s) => s.path));
  const skipped: { path: string; reason: string }[] = manifest.malformed.map((e) => ({ path: `(manifest line ${e.line})`, reason: `not a sample: ${e.error}` }));
  const augmented: { source: string; path: string; flip: Flip }[] = [];
  const created = new Map<string, ManifestSample[]>();
  const now = new Date().toISOString();
  const tick = progressReporter(ctx, 'augmented', manifest.samples.length);

  await mapLimited(manifest.samples, IN_FLIGHT, ctx.signal, async (sample) => {
    try {
      if (!isSafePath(sample.path)) return void skipped.push({ path: sample.path, reason: 'not a valid dataset path (absolute, or with ".", ".." or empty segments)' });
      if (!looksLikePng(sample)) return void skipped.push({ path: sample.path, reason: `only PNG images can be flipped by this worker (this is ${sample.content_type})` });
      const wanted = flips.filter((flip) => {
        const target = flippedPath(sample.path, flip);
        if (!existing.has(target)) return true;
        skipped.push({ path: sample.path, reason: `its ${flip} flip would be ${target}, which the dataset already has` });
        return false;
      });
      if (!wanted.length) return;
      const bytes = await ctx.storage.get(fileKey(ctx, sample.path), { signal: ctx.signal });
      if (!bytes) return void skipped.push({ path: sample.path, reason: 'the file is not in storage' });
      if (!isPng(bytes)) return void skipped.push({ path: sample.path, reason: 'the file is not a PNG, whatever its name or type says' });
      let image: PngImage;
      try {
        image = decodePng(bytes);
      } catch (error) {
        if (error instanceof PngError) return void skipped.push({ path: sample.path, reason: error.message });
        throw error;
      }
      const made: ManifestSample[] = [];
      for (const flip of wanted) {
        const png = encodePng(flipImage(image, flip));
        const path = flippedPath(sample.path, flip);
        await ctx.storage.put(ctx.output(`artifacts/augmented/files/${path}`), png, 'image/png', { signal: ctx.signal });
        const annotations = sample.annotations.map((a) => flipAnnotation(a, flip));
        made.push({
          id: sampleIdFor(sample.dataset_id, path),
          dataset_id: sample.dataset_id,
          path,
          size: png.length,
          content_type: 'image/png',
          width: image.width,
          height: image.height,
          annotations,
          labels: labelsOf(annotations),
          tags: [...new Set([...sample.tags, AUGMENTED_TAG])],
          review_state: sample.review_state,
          created_on: now,
        });
        augmented.push({ source: sample.path, path, flip });
      }
      created.set(sample.path, made);
    } finally {
      tick();
    }
  });

  // Originals in manifest order, each followed by its flips: a stable order whatever finished first.
  const samples = manifest.samples.flatMap((s) => [s, ...(created.get(s.path) ?? [])]);
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  augmented.sort(byPath);
  skipped.sort(byPath);
  await ctx.storage.put(ctx.output('artifacts/manifest.jsonl'), manifestText(samples), 'application/x-ndjson', { signal: ctx.signal });
  await ctx.storage.putJson(ctx.output('artifacts/augmentation.json'), { spec: ctx.spec, manifest: manifest.key, samples: manifest.entries.length, augmented, skipped }, { signal: ctx.signal });

  for (const s of skipped.slice(0, 20)) ctx.log(`skipped ${s.path}: ${s.reason}`);
  if (skipped.length > 20) ctx.log(`… and ${skipped.length - 20} more skipped (see artifacts/augmentation.json)`);
  const message = `${augmented.length} augmented images from ${manifest.entries.length} samples (${flips.join(' and ')} flips), ${skipped.length} skipped`;
  ctx.log(message);
  return {
    status: 'Done',
    exitCode: 0,
    message,
    stats: [
      { metric: 'samples', value: manifest.entries.length },
      { metric: 'augmented_images', value: augmented.length },
      { metric: 'skipped', value: skipped.length },
    ],
  };
}
