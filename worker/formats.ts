import {
  imageCandidates,
  type ImageAnnotations,
  readClassNames,
  readCoco,
  readKitti,
  readManifest,
  type ResolveImage,
  readYolo,
} from '../functions/core/annotation-formats';
import { Tag } from '../functions/core/schemas/common';
import { Annotation } from '../functions/core/schemas/sample';
import { isSafePath, type ManifestAnnotation, type ManifestSample } from './manifest';

/**
 * Annotation converters: a version's samples written as COCO, YOLO, KITTI or Trainyard's import manifest,
 * laid out so that Trainyard's own readers (functions/core/annotation-formats.ts, what the importer runs)
 * read the files back, beside the same images, into the same annotations. Pure: samples in, file texts
 * out, plus what was skipped or dropped and why (a format that cannot hold something says so).
 */
export const TARGET_FORMATS = ['coco', 'yolo', 'kitti', 'manifest'] as const;
export type TargetFormat = (typeof TARGET_FORMATS)[number];

export interface OutputFile {
  /** Relative to the format's folder (artifacts/{format}/), which stands for the dataset's root. */
  path: string;
  body: string;
  contentType: string;
}

export interface Skipped {
  path: string;
  reason: string;
}

export interface Dropped {
  path: string;
  annotation: number;
  label: string;
  reason: string;
}

export interface Conversion {
  format: TargetFormat;
  files: OutputFile[];
  /** The samples the files hold, in manifest order. */
  converted: ManifestSample[];
  skipped: Skipped[];
  dropped: Dropped[];
}

const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
const fixed = (v: number, digits: number) => {
  const s = v.toFixed(digits);
  return s === `-${(0).toFixed(digits)}` ? s.slice(1) : s;
};

/** An annotation as the API would take it (label trimmed), or why it would not. */
function cleanAnnotation(a: ManifestAnnotation): { annotation: Annotation } | { reason: string } {
  const bare = { label: a.label, ...(a.box ? { box: { x: a.box.x, y: a.box.y, w: a.box.w, h: a.box.h } } : {}) };
  const parsed = Annotation.safeParse(bare);
  if (!parsed.success) return { reason: `not a valid annotation: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(annotation)'}: ${i.message}`).join('; ')}` };
  return { annotation: parsed.data };
}

const hasSize = (s: ManifestSample): s is ManifestSample & { width: number; height: number } => Boolean(s.width && s.height && s.width > 0 && s.height > 0);

/** YOLO's pairing: the image's last `images/` folder becomes `labels/`; an image outside any `images/` folder has its label beside it. */
export function yoloLabelPath(imagePath: string): string | undefined {
  return labelPath(imagePath, 'images', 'labels', 'last');
}

/** KITTI's pairing: the image's first `image_2/` folder becomes `label_2/`; otherwise beside the image. */
export function kittiLabelPath(imagePath: string): string | undefined {
  return labelPath(imagePath, 'image_2', 'label_2', 'first');
}

function labelPath(imagePath: string, imageFolder: string, labelFolder: string, which: 'first' | 'last'): string | undefined {
  const parts = imagePath.split('/');
  const name = parts.pop()!;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const at = which === 'last' ? parts.lastIndexOf(imageFolder) : parts.indexOf(imageFolder);
  if (at >= 0) parts[at] = labelFolder;
  return [...parts, `${name.slice(0, dot)}.txt`].join('/');
}

/** The first candidate that is one of `paths`: how the importer finds the image an annotation file names. */
export function resolverOver(paths: Iterable<string>): ResolveImage {
  const set = paths instanceof Set ? (paths as Set<string>) : new Set(paths);
  return (candidates) => candidates.find((c) => set.has(c));
}

interface Prepared {
  sample: ManifestSample;
  annotations: Annotation[];
}

/** Drops what the format (or the API) cannot hold, reporting each; skips what it cannot hold at all. */
function prepare(format: TargetFormat, samples: ManifestSample[], skipped: Skipped[], dropped: Dropped[]): Prepared[] {
  const prepared: Prepared[] = [];
  for (const sample of samples) {
    if (!isSafePath(sample.path)) {
      skipped.push({ path: sample.path, reason: 'not a valid dataset path (absolute, or with ".", ".." or empty segments)' });
      continue;
    }
    if ((format === 'coco' || format === 'kitti') && !hasSize(sample)) {
      skipped.push({ path: sample.path, reason: `${format.toUpperCase()} needs the image's width and height, and neither the manifest nor the image header gave them` });
      continue;
    }
    const annotations: Annotation[] = [];
    sample.annotations.forEach((raw, i) => {
      const drop = (reason: string) => dropped.push({ path: sample.path, annotation: i, label: raw.label, reason });
      const clean = cleanAnnotation(raw);
      if ('reason' in clean) return drop(clean.reason);
      const a = clean.annotation;
      if ((format === 'yolo' || format === 'kitti') && !a.box) return drop(`${format.toUpperCase()} has no whole-image labels`);
      if (format === 'kitti' && /\s/.test(a.label)) return drop('KITTI labels cannot contain whitespace');
      if (format === 'kitti' && a.label === 'DontCare') return drop('KITTI readers ignore DontCare');
      annotations.push(a);
    });
    prepared.push({ sample, annotations });
  }
  return prepared;
}

/**
 * Keeps, for each label file, the one image the importer would pair it with (`a.png` and `a.jpg` share
 * `a.txt`; an extension the pairing rule does not know finds no image), skipping the rest.
 */
function pairLabelFiles(prepared: Prepared[], allPaths: Set<string>, pathOf: (image: string) => string | undefined, skipped: Skipped[]): (Prepared & { labelPath: string })[] {
  const resolve = resolverOver(allPaths);
  const kept: (Prepared & { labelPath: string })[] = [];
  for (const p of prepared) {
    const label = pathOf(p.sample.path);
    if (!label) {
      skipped.push({ path: p.sample.path, reason: 'the file name has no extension, so no label file can pair with it' });
      continue;
    }
    const paired = resolve(imageCandidates(label));
    if (paired === p.sample.path) kept.push({ ...p, labelPath: label });
    else if (!paired) skipped.push({ path: p.sample.path, reason: `the importer would not pair ${label} with this image (its extension is not one the pairing rule tries)` });
    else skipped.push({ path: p.sample.path, reason: `${label} would be paired with ${paired}, not with this image` });
  }
  return kept;
}

function classesOf(prepared: Prepared[]): string[] {
  return [...new Set(prepared.flatMap((p) => p.annotations.map((a) => a.label)))].sort();
}

const withAnnotations = (p: Prepared): ManifestSample => ({ ...p.sample, annotations: p.annotations });

/** The samples' annotations in `format`. `allPaths`: every image path of the dataset (defaults to the samples'). */
export function convertAnnotations(format: TargetFormat, samples: ManifestSample[], allPaths: Set<string> = new Set(samples.map((s) => s.path))): Conversion {
  const skipped: Skipped[] = [];
  const dropped: Dropped[] = [];
  const prepared = prepare(format, samples, skipped, dropped);
  switch (format) {
    case 'coco':
      return { format, ...toCoco(prepared), skipped, dropped };
    case 'manifest':
      return { format, ...toManifest(prepared, dropped), skipped, dropped };
    case 'yolo': {
      const paired = pairLabelFiles(prepared, allPaths, yoloLabelPath, skipped);
      const classes = classesOf(prepared);
      const index = new Map(classes.map((c, i) => [c, i]));
      const files: OutputFile[] = [{ path: 'classes.txt', body: classes.map((c) => `${c}\n`).join(''), contentType: 'text/plain; charset=utf-8' }];
      for (const p of paired) {
        const lines = p.annotations.map((a) => {
          const b = a.box!;
          return `${index.get(a.label)} ${fixed(b.x + b.w / 2, 6)} ${fixed(b.y + b.h / 2, 6)} ${fixed(b.w, 6)} ${fixed(b.h, 6)}\n`;
        });
        files.push({ path: p.labelPath, body: lines.join(''), contentType: 'text/plain; charset=utf-8' });
      }
      return { format, files, converted: paired.map(withAnnotations), skipped, dropped };
    }
    case 'kitti': {
      const paired = pairLabelFiles(prepared, allPaths, kittiLabelPath, skipped);
      const files = paired.map((p): OutputFile => {
        const { width, height } = p.sample as { width: number; height: number };
        const lines = p.annotations.map((a) => {
          const b = a.box!;
          const corners = [b.x * width, b.y * height, (b.x + b.w) * width, (b.y + b.h) * height].map((v) => fixed(v, 4));
          return `${a.label} 0.00 0 0.00 ${corners.join(' ')} 0.00 0.00 0.00 0.00 0.00 0.00 0.00\n`;
        });
        return { path: p.labelPath, body: lines.join(''), contentType: 'text/plain; charset=utf-8' };
      });
      return { format, files, converted: paired.map(withAnnotations), skipped, dropped };
    }
  }
}

function toCoco(prepared: Prepared[]): { files: OutputFile[]; converted: ManifestSample[] } {
  const classes = classesOf(prepared);
  const categoryId = new Map(classes.map((c, i) => [c, i + 1]));
  const images: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  prepared.forEach((p, i) => {
    const { width, height } = p.sample as { width: number; height: number };
    images.push({ id: i + 1, file_name: p.sample.path, width, height });
    for (const a of p.annotations) {
      const base = { id: annotations.length + 1, image_id: i + 1, category_id: categoryId.get(a.label)!, iscrowd: 0 };
      if (!a.box) {
        annotations.push(base);
        continue;
      }
      const bbox = [a.box.x * width, a.box.y * height, a.box.w * width, a.box.h * height].map(round4);
      annotations.push({ ...base, bbox, area: round4(bbox[2]! * bbox[3]!) });
    }
  });
  const coco = {
    info: { description: 'Converted by Trainyard (dataset_convert)', date_created: new Date().toISOString() },
    images,
    categories: classes.map((name) => ({ id: categoryId.get(name)!, name, supercategory: '' })),
    annotations,
  };
  return { files: [{ path: 'instances.json', body: `${JSON.stringify(coco)}\n`, contentType: 'application/json' }], converted: prepared.map(withAnnotations) };
}

function toManifest(prepared: Prepared[], dropped: Dropped[]): { files: OutputFile[]; converted: ManifestSample[] } {
  const lines = prepared.map((p) => {
    const tags = p.sample.tags.filter((t) => {
      const ok = Tag.safeParse(t).success && Tag.parse(t) === t;
      if (!ok) dropped.push({ path: p.sample.path, annotation: -1, label: t, reason: 'the tag is not a valid tag (dropped from the line\'s tags)' });
      return ok;
    });
    return `${JSON.stringify({ source: p.sample.path, annotations: p.annotations, tags })}\n`;
  });
  return { files: [{ path: 'manifest.jsonl', body: lines.join(''), contentType: 'application/x-ndjson' }], converted: prepared.map(withAnnotations) };
}

/**
 * Reads converted files back with the importer's readers, against a dataset whose images are `allPaths`
 * (sizes from the samples, as the importer takes them from the image headers). Throws if any file reads
 * with errors: then the conversion is wrong, and nothing should be registered from it.
 */
export function readBack(format: TargetFormat, files: OutputFile[], samples: ManifestSample[], allPaths: Set<string> = new Set(samples.map((s) => s.path))): Map<string, ImageAnnotations> {
  const resolve = resolverOver(allPaths);
  const sizes = new Map(samples.filter(hasSize).map((s) => [s.path, { width: s.width, height: s.height }]));
  const images = new Map<string, ImageAnnotations>();
  const errors: string[] = [];
  const take = (file: string, read: { images: Map<string, ImageAnnotations>; errors: string[] }) => {
    errors.push(...read.errors.map((e) => `${file}: ${e}`));
    for (const [path, annotated] of read.images) images.set(path, annotated);
  };
  const classFile = files.find((f) => f.path === 'classes.txt');
  const classNames = format === 'yolo' ? (readClassNames('classes.txt', classFile?.body ?? '') ?? []) : [];
  for (const file of files) {
    if (format === 'coco') take(file.path, readCoco(file.body, file.path, resolve));
    else if (format === 'manifest') take(file.path, readManifest(file.body, file.path, resolve));
    else if (format === 'yolo' && file !== classFile) take(file.path, readYolo(file.body, file.path, classNames, resolve));
    else if (format === 'kitti') take(file.path, readKitti(file.body, file.path, resolve, (image) => sizes.get(image)));
  }
  if (errors.length) throw new Error(`the converted ${format} files do not read back cleanly: ${errors.slice(0, 5).join('; ')}`);
  return images;
}
