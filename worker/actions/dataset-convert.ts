import * as z from 'zod';
import { type ActionResult, InvalidSpec, type JobContext, mapLimited, progressReporter } from '../context';
import { convertAnnotations, readBack, TARGET_FORMATS, type TargetFormat } from '../formats';
import { HEADER_BYTES, readImageHeader } from '../images';
import { fileKey, isSafePath, labelsOf, type ManifestSample, manifestText, readInputManifest } from '../manifest';

/**
 * dataset_convert: the version's annotations written in another format under artifacts/{format}/, plus
 * the converted result as a version manifest (artifacts/manifest.jsonl) whose annotations are what the
 * written files read back as, and a report of what was skipped or dropped (artifacts/conversion.json).
 */
const Spec = z.object({ target_format: z.enum(TARGET_FORMATS) });
const IN_FLIGHT = 16;

export function parseConvertSpec(spec: unknown): { target_format: TargetFormat } {
  const parsed = Spec.safeParse(spec);
  if (!parsed.success) throw new InvalidSpec(`spec: target_format must be one of ${TARGET_FORMATS.join(', ')}`);
  return parsed.data;
}

/** COCO and KITTI need pixel sizes: samples without recorded ones get them from their image header, when it reads. */
async function withSizes(ctx: JobContext, samples: ManifestSample[]): Promise<ManifestSample[]> {
  const unsized = samples.filter((s) => !(s.width && s.height)).length;
  if (!unsized) return samples;
  ctx.log(`reading the image headers of ${unsized} samples without a recorded width and height`);
  return mapLimited(samples, IN_FLIGHT, ctx.signal, async (s) => {
    if ((s.width && s.height) || !isSafePath(s.path)) return s;
    const head = await ctx.storage.getHead(fileKey(ctx, s.path), HEADER_BYTES, { signal: ctx.signal });
    const header = head ? readImageHeader(head.bytes) : undefined;
    return header && !('error' in header) ? { ...s, width: header.width, height: header.height } : s;
  });
}

export async function datasetConvert(ctx: JobContext): Promise<ActionResult> {
  const { target_format: format } = parseConvertSpec(ctx.spec);
  const manifest = await readInputManifest(ctx);
  const allPaths = new Set(manifest.samples.map((s) => s.path));
  const samples = format === 'coco' || format === 'kitti' ? await withSizes(ctx, manifest.samples) : manifest.samples;

  const conversion = convertAnnotations(format, samples, allPaths);
  // The result as the importer would read it: what gets registered is what the files hold.
  const read = readBack(format, conversion.files, samples, allPaths);
  const converted = conversion.converted.map((s): ManifestSample => {
    const annotated = read.get(s.path);
    if (!annotated) throw new Error(`the converted ${format} files do not mention ${s.path}`);
    return { ...s, annotations: annotated.annotations, labels: labelsOf(annotated.annotations) };
  });

  const folder = `artifacts/${format}/`;
  const tick = progressReporter(ctx, 'wrote', conversion.files.length, `${format} files`);
  await mapLimited(conversion.files, IN_FLIGHT, ctx.signal, async (file) => {
    await ctx.storage.put(ctx.output(folder + file.path), file.body, file.contentType, { signal: ctx.signal });
    tick();
  });
  const skipped = [...manifest.malformed.map((e) => ({ path: `(manifest line ${e.line})`, reason: `not a sample: ${e.error}` })), ...conversion.skipped];
  const report = {
    target_format: format,
    manifest: manifest.key,
    samples: manifest.entries.length,
    converted: converted.length,
    skipped,
    dropped: conversion.dropped,
    files: conversion.files.map((f) => folder + f.path),
  };
  await ctx.storage.put(ctx.output('artifacts/manifest.jsonl'), manifestText(converted), 'application/x-ndjson', { signal: ctx.signal });
  await ctx.storage.putJson(ctx.output('artifacts/conversion.json'), report, { signal: ctx.signal });

  for (const s of skipped.slice(0, 20)) ctx.log(`skipped ${s.path}: ${s.reason}`);
  if (skipped.length > 20) ctx.log(`… and ${skipped.length - 20} more skipped (see artifacts/conversion.json)`);
  const annotationsDropped = conversion.dropped.filter((d) => d.annotation >= 0).length;
  const message = `converted ${converted.length} of ${report.samples} samples to ${format} (${conversion.files.length} files), ${skipped.length} skipped, ${annotationsDropped} annotations dropped`;
  ctx.log(message);
  return {
    status: 'Done',
    exitCode: 0,
    message,
    stats: [
      { metric: 'samples', value: report.samples },
      { metric: 'converted', value: converted.length },
      { metric: 'skipped', value: skipped.length },
      { metric: 'dropped_annotations', value: annotationsDropped },
    ],
  };
}
