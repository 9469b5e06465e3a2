import * as z from 'zod';
import { Tag } from './schemas/common';
import { Annotation, LabelName } from './schemas/sample';

/**
 * Readers for the annotation files datasets arrive with: COCO, YOLO, KITTI and Trainyard's JSON-lines
 * manifest. Each is pure: given the file's text and a way to find the dataset's images, it answers the
 * annotations per image path, or the errors that make the file unusable. A file with any error is applied
 * not at all (the importer's rule), so every reader reports rather than skips.
 */
export type AnnotationFormat = 'coco' | 'yolo' | 'kitti' | 'manifest';

export interface ImageAnnotations {
  annotations: Annotation[];
  width?: number;
  height?: number;
  tags?: string[];
}

export interface ReadResult {
  /** Image path → what the file says of it. */
  images: Map<string, ImageAnnotations>;
  errors: string[];
}

/** Finds a stored image for a name an annotation file uses; undefined when the dataset has none. */
export type ResolveImage = (candidates: string[]) => string | undefined;

const MAX_ERRORS = 20;
/** Boxes may overhang the image by rounding; more than this (in pixels, or 0.1 % normalised) is an error. */
const PIXEL_SLACK = 1;
const FRACTION_SLACK = 0.001;

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'bmp', 'gif', 'webp', 'tif', 'tiff', 'JPG', 'JPEG', 'PNG'];

class Errors {
  readonly list: string[] = [];
  add(message: string): void {
    if (this.list.length < MAX_ERRORS) this.list.push(message);
    else this.overflow++;
  }
  overflow = 0;
  get all(): string[] {
    return this.overflow ? [...this.list, `… and ${this.overflow} more`] : this.list;
  }
}

/** A box already in fractions of the image, clamped into it; undefined if it overhangs by more than `slack`. */
export function fractionBox(x: number, y: number, w: number, h: number, slack = FRACTION_SLACK) {
  const fits = (start: number, size: number) => start >= -slack && size >= 0 && start + size <= 1 + slack;
  if (![x, y, w, h].every(Number.isFinite) || !fits(x, w) || !fits(y, h)) return undefined;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  const left = clamp(x);
  const top = clamp(y);
  return { x: left, y: top, w: clamp(Math.min(w, 1 - left)), h: clamp(Math.min(h, 1 - top)) };
}

/** A pixel box (left, top, width, height) normalised to the image; undefined if it lies outside. */
export function normalisedBox(left: number, top: number, width: number, height: number, imageWidth: number, imageHeight: number) {
  const slack = PIXEL_SLACK / Math.max(imageWidth, imageHeight);
  return fractionBox(left / imageWidth, top / imageHeight, width / imageWidth, height / imageHeight, slack);
}

function parentOf(path: string): string {
  return path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
}

// COCO ---------------------------------------------------------------------------------------------

const CocoFile = z.object({
  images: z.array(z.object({ id: z.union([z.number(), z.string()]), file_name: z.string().min(1), width: z.number().positive(), height: z.number().positive() }).loose()),
  annotations: z.array(
    z.object({ image_id: z.union([z.number(), z.string()]), category_id: z.union([z.number(), z.string()]), bbox: z.array(z.number()).length(4).optional() }).loose(),
  ),
  categories: z.array(z.object({ id: z.union([z.number(), z.string()]), name: LabelName }).loose()),
});

/**
 * COCO: `file_name`s are found beside the JSON file, in an `images/` folder beside it or beside its
 * folder (the usual `annotations/instances.json` + `images/`), or from the dataset's root.
 */
export function readCoco(text: string, jsonPath: string, resolve: ResolveImage): ReadResult {
  const errors = new Errors();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { images: new Map(), errors: [`not valid JSON: ${(error as Error).message}`] };
  }
  const file = CocoFile.safeParse(parsed);
  if (!file.success) {
    for (const i of file.error.issues) errors.add(`not a COCO file: ${i.path.join('.') || '(top)'}: ${i.message}`);
    return { images: new Map(), errors: errors.all };
  }
  const categories = new Map(file.data.categories.map((c) => [String(c.id), c.name]));
  const dir = parentOf(jsonPath);
  const up = parentOf(dir.slice(0, -1));
  const byId = new Map<string, { path: string; width: number; height: number }>();
  const images = new Map<string, ImageAnnotations>();
  for (const image of file.data.images) {
    const name = image.file_name.replace(/^\.?\//, '');
    const path = resolve([dir + name, `${dir}images/${name}`, `${up}images/${name}`, up + name, name]);
    if (!path) {
      errors.add(`images[id=${image.id}]: no stored image ${image.file_name}`);
      continue;
    }
    byId.set(String(image.id), { path, width: image.width, height: image.height });
    images.set(path, { annotations: [], width: image.width, height: image.height });
  }
  file.data.annotations.forEach((a, i) => {
    const image = byId.get(String(a.image_id));
    const label = categories.get(String(a.category_id));
    if (!image) return errors.add(`annotations[${i}]: image_id ${a.image_id} is not among the images found`);
    if (!label) return errors.add(`annotations[${i}]: category_id ${a.category_id} is not among the categories`);
    if (!a.bbox) return images.get(image.path)!.annotations.push({ label });
    const box = normalisedBox(a.bbox[0]!, a.bbox[1]!, a.bbox[2]!, a.bbox[3]!, image.width, image.height);
    if (!box) return errors.add(`annotations[${i}]: bbox ${JSON.stringify(a.bbox)} lies outside its ${image.width}x${image.height} image`);
    images.get(image.path)!.annotations.push({ label, box });
  });
  return { images, errors: errors.all };
}

// YOLO ---------------------------------------------------------------------------------------------

/** The images a label file may belong to: `labels/` ↔ `images/` (YOLO's rule), `label_2/` ↔ `image_2/` (KITTI's), or beside it. */
export function imageCandidates(labelPath: string): string[] {
  const stem = labelPath.replace(/\.[^./]+$/, '');
  const swaps: [RegExp, string][] = [
    [/(^|\/)labels\/(?!.*(^|\/)labels\/)/, '$1images/'],
    [/(^|\/)label_2\//, '$1image_2/'],
    [/(^|\/)label\//, '$1image/'],
  ];
  const stems = [...new Set([...swaps.map(([from, to]) => stem.replace(from, to)).filter((s) => s !== stem), stem])];
  return stems.flatMap((s) => IMAGE_EXTENSIONS.map((ext) => `${s}.${ext}`));
}

/** Class-name files YOLO datasets carry; the nearest one above a label file names its classes. */
export const YOLO_CLASS_FILES = ['classes.txt', 'obj.names', 'data.yaml', 'dataset.yaml'];

export function isYoloClassFile(path: string): boolean {
  return YOLO_CLASS_FILES.includes(path.slice(path.lastIndexOf('/') + 1));
}

/** Where to look for a label file's class names, nearest first. */
export function classFileCandidates(labelPath: string): string[] {
  const candidates: string[] = [];
  let dir = parentOf(labelPath);
  for (;;) {
    for (const name of YOLO_CLASS_FILES) candidates.push(dir + name);
    if (!dir) return candidates;
    dir = parentOf(dir.slice(0, -1));
  }
}

/** Class names from classes.txt / obj.names (a name a line) or a YOLO data.yaml `names:` (list or map). */
export function readClassNames(path: string, text: string): string[] | undefined {
  if (!/\.ya?ml$/.test(path)) {
    const names = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return names.length ? names : undefined;
  }
  const unquote = (s: string) => s.trim().replace(/^['"]|['"]$/g, '');
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l) => /^names\s*:/.test(l));
  if (at < 0) return undefined;
  const inline = lines[at]!.replace(/^names\s*:/, '').trim();
  if (inline.startsWith('[')) return inline.replace(/^\[|\]$/g, '').split(',').map(unquote).filter(Boolean);
  const names: string[] = [];
  for (const line of lines.slice(at + 1)) {
    // A block list may sit at the key's own indentation (as PyYAML writes it); a map is read by its indices.
    const item = /^\s*-\s*(.+)$/.exec(line);
    const entry = item ? undefined : /^\s+(\d+)\s*:\s*(.+)$/.exec(line);
    if (item) names.push(unquote(item[1]!));
    else if (entry) names[Number(entry[1])] = unquote(entry[2]!);
    else break;
  }
  return names.length ? names : undefined;
}

/** One YOLO label file: `class cx cy w h` a line, normalised centre and size. */
export function readYolo(text: string, labelPath: string, classNames: string[], resolve: ResolveImage): ReadResult {
  const errors = new Errors();
  const image = resolve(imageCandidates(labelPath));
  if (!image) return { images: new Map(), errors: [`no stored image for ${labelPath} (looked in images/ and beside it)`] };
  const annotations: Annotation[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const fields = line.split(/\s+/).map(Number);
    if (fields.length !== 5 || fields.some((f) => !Number.isFinite(f))) return errors.add(`line ${i + 1}: expected "class cx cy w h", got "${line.slice(0, 80)}"`);
    const [cls, cx, cy, w, h] = fields as [number, number, number, number, number];
    const label = classNames[cls];
    if (!Number.isInteger(cls) || label === undefined) return errors.add(`line ${i + 1}: class ${cls} is not among the ${classNames.length} class names`);
    const box = fractionBox(cx - w / 2, cy - h / 2, w, h);
    if (!box) return errors.add(`line ${i + 1}: the box lies outside the image`);
    annotations.push({ label, box });
  });
  return { images: new Map([[image, { annotations }]]), errors: errors.all };
}

// KITTI --------------------------------------------------------------------------------------------

/** One KITTI label file: `type truncated occluded alpha left top right bottom …` (15 fields, 16 with a score), pixels. */
export function readKitti(text: string, labelPath: string, resolve: ResolveImage, sizeOf: (image: string) => { width: number; height: number } | undefined): ReadResult {
  const errors = new Errors();
  const image = resolve(imageCandidates(labelPath));
  if (!image) return { images: new Map(), errors: [`no stored image for ${labelPath} (looked in image_2/ and beside it)`] };
  const size = sizeOf(image);
  if (!size) return { images: new Map(), errors: [`cannot read the size of ${image}`] };
  const annotations: Annotation[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const fields = line.split(/\s+/);
    if (fields.length !== 15 && fields.length !== 16) return errors.add(`line ${i + 1}: expected 15 or 16 fields, got ${fields.length}`);
    const label = fields[0]!;
    if (label === 'DontCare') return;
    const [left, top, right, bottom] = fields.slice(4, 8).map(Number) as [number, number, number, number];
    const box = normalisedBox(left, top, right - left, bottom - top, size.width, size.height);
    if (!LabelName.safeParse(label).success) return errors.add(`line ${i + 1}: "${label}" is not a label name`);
    if (!box) return errors.add(`line ${i + 1}: the box ${left},${top},${right},${bottom} lies outside the ${size.width}x${size.height} image`);
    annotations.push({ label, box });
  });
  return { images: new Map([[image, { annotations }]]), errors: errors.all };
}

// Manifest -----------------------------------------------------------------------------------------

const ManifestLine = z
  .strictObject({
    source: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    label: LabelName.optional(),
    annotations: z.array(Annotation).optional(),
    tags: z.array(Tag).max(50).optional(),
  })
  .refine((l) => Boolean(l.source ?? l.path), 'each line names its image in "source" (or "path")');

/**
 * Trainyard's manifest: one JSON object a line, `{"source": "<image path>", "annotations": [...]}` or
 * `{"source": …, "label": "cat"}`; paths are relative to the manifest's folder, or to the dataset root.
 */
export function readManifest(text: string, manifestPath: string, resolve: ResolveImage): ReadResult {
  const errors = new Errors();
  const images = new Map<string, ImageAnnotations>();
  const dir = parentOf(manifestPath);
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return errors.add(`line ${i + 1}: not valid JSON`);
    }
    const line = ManifestLine.safeParse(json);
    if (!line.success) return errors.add(`line ${i + 1}: ${line.error.issues.map((x) => `${x.path.join('.') || '(line)'}: ${x.message}`).join('; ')}`);
    const name = (line.data.source ?? line.data.path)!.replace(/^\.?\//, '');
    const path = resolve([dir + name, name]);
    if (!path) return errors.add(`line ${i + 1}: no stored image ${name}`);
    const annotations = [...(line.data.annotations ?? []), ...(line.data.label ? [{ label: line.data.label }] : [])];
    images.set(path, { annotations, ...(line.data.tags ? { tags: line.data.tags } : {}) });
  });
  return { images, errors: errors.all };
}
