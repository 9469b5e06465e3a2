import {
  type AnnotationFormat,
  classFileCandidates,
  imageCandidates,
  type ImageAnnotations,
  isYoloClassFile,
  readClassNames,
  readCoco,
  readKitti,
  readManifest,
  type ReadResult,
  type ResolveImage,
  readYolo,
} from './annotation-formats';
import { mapLimited } from './concurrency';
import { batchGetItems, getItem, putItem } from './dynamo';
import { annotationImportItem, type AnnotationImportRecord } from './entities/annotation-import';
import type { DatasetRecord } from './entities/dataset';
import { sampleIdFor, sampleKey } from './entities/sample';
import { getObjectStream, headObject, listObjects, readObject, S3Error } from './s3';
import { dimensionsOf, HEADER_BYTES, registerSamples, type SampleFile } from './samples';
import { FilePath } from './schemas/upload';
import { datasetFilesPrefix } from './uploads';

/**
 * Annotation import: when a dataset's annotation files arrive (COCO JSON, YOLO label files, KITTI label
 * files, a JSON-lines manifest, as its `format` says), their annotations attach to the samples of the
 * images they name. Each file is all or nothing: a file with any error applies nothing and is reported
 * with its first errors; a good file replaces the annotations of the images it names (the images become
 * samples if they were not yet). Every file's outcome is a report row (see import-status.ts).
 */
const MAX_ANNOTATION_FILE_BYTES = 64 * 1024 * 1024;

export function annotationFormatOf(dataset: Pick<DatasetRecord, 'format'>): AnnotationFormat | undefined {
  return ({ coco: 'coco', coco_raw: 'coco', yolo: 'yolo', kitti: 'kitti', manifest: 'manifest' } as const)[dataset.format as 'coco'];
}

/** Whether a stored file is (or may be) an annotation file of the dataset's format. */
export function isAnnotationFile(format: AnnotationFormat | undefined, path: string): boolean {
  switch (format) {
    case 'coco':
      return /\.json$/i.test(path);
    case 'manifest':
      return /\.(jsonl|ndjson|manifest)$/i.test(path);
    case 'yolo':
      return /\.txt$/i.test(path) || isYoloClassFile(path);
    case 'kitti':
      return /\.txt$/i.test(path);
    default:
      return false;
  }
}

async function readText(key: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await getObjectStream(key)) {
    size += (chunk as Buffer).length;
    if (size > MAX_ANNOTATION_FILE_BYTES) throw new Error(`over ${MAX_ANNOTATION_FILE_BYTES / 1024 / 1024} MiB`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const readHeader = (key: string): Promise<Buffer> => readObject(key, { start: 0, end: HEADER_BYTES - 1 });

/**
 * Finds which of the candidate paths an annotation file may mean is stored, for many candidate lists at
 * once. Images are looked up as samples first (one batched read per 100 candidates: images become samples
 * as they land, and an archive's before its annotation files), then, for a list none of whose candidates
 * is a sample yet, in storage (a HEAD per candidate, in order). Listing the bucket is never needed.
 */
async function resolveImages(dataset: DatasetRecord, prefix: string, lists: string[][]): Promise<Map<string, { path: string; size: number }>> {
  // A name an annotation file gives is the uploader's text: only a safe path inside the dataset is looked up.
  const safe = (path: string) => FilePath.safeParse(path).success;
  lists = lists.map((list) => list.filter(safe));
  const all = [...new Set(lists.flat())];
  const samples = new Map<string, number>();
  for (const item of await batchGetItems(all.map((path) => sampleKey(dataset.id, sampleIdFor(dataset.id, path))))) samples.set(String(item.path), Number(item.size));
  const resolved = new Map<string, { path: string; size: number }>();
  const unresolved: string[][] = [];
  for (const list of lists) {
    const path = list.find((candidate) => samples.has(candidate));
    if (path) resolved.set(listKey(list), { path, size: samples.get(path)! });
    else unresolved.push(list);
  }
  await mapLimited([...new Map(unresolved.map((l) => [listKey(l), l])).values()], 16, async (list) => {
    for (const path of list) {
      const stored = await headObject(prefix + path);
      if (stored) return void resolved.set(listKey(list), { path, size: stored.size });
    }
  });
  return resolved;
}

const listKey = (candidates: string[]) => candidates.join('\0');

export interface ImportOutcome {
  file: string;
  status: 'applied' | 'failed' | 'skipped';
  samples: number;
  annotations: number;
  errors: string[];
}

type Reader = (text: string, resolve: ResolveImage) => Promise<ReadResult | undefined>;

/** Import the annotation files at `paths` (dataset-relative) into the dataset's samples. */
export async function importAnnotations(dataset: DatasetRecord, paths: string[]): Promise<ImportOutcome[]> {
  const format = annotationFormatOf(dataset);
  if (!format || paths.length === 0) return [];
  const prefix = datasetFilesPrefix(dataset);
  let files = [...new Set(paths)];
  if (format === 'yolo' && files.some(isYoloClassFile)) {
    // A class-name file (re)applies every label file below its folder: they may have come first.
    const folders = files.filter(isYoloClassFile).map((p) => p.slice(0, p.lastIndexOf('/') + 1));
    const below = (await Promise.all(folders.map((folder) => storedPaths(prefix, folder)))).flat();
    files = [...new Set([...files.filter((p) => !isYoloClassFile(p)), ...below.filter((p) => /\.txt$/i.test(p) && !isYoloClassFile(p))])];
  }
  // Per call: label files of one folder share their class-name file, found and read once.
  const classFiles = new Map<string, Promise<string | undefined>>();
  const classNames = new Map<string, Promise<string[] | undefined>>();
  const namesFor = async (labelPath: string) => {
    const candidates = classFileCandidates(labelPath);
    if (!classFiles.has(listKey(candidates))) classFiles.set(listKey(candidates), firstStored(prefix, candidates));
    const file = await classFiles.get(listKey(candidates));
    if (!file) return undefined;
    if (!classNames.has(file)) classNames.set(file, readText(prefix + file).then((text) => readClassNames(file, text)));
    return classNames.get(file)!;
  };
  const readerFor = (file: string): Reader => {
    switch (format) {
      case 'coco':
        return async (text, resolve) => readCoco(text, file, resolve);
      case 'manifest':
        return async (text, resolve) => readManifest(text, file, resolve);
      case 'yolo':
        return async (text, resolve) => {
          // A .txt with no image and outside any labels/ folder is not a label file (a README, say).
          if (!resolve(imageCandidates(file)) && !/(^|\/)labels\//.test(file)) return undefined;
          const names = await namesFor(file);
          if (!names) return { images: new Map(), errors: ['no class names: put classes.txt, obj.names or data.yaml (names:) in its folder or one above'] };
          return readYolo(text, file, names, resolve);
        };
      case 'kitti':
        return async (text, resolve) => {
          const image = resolve(imageCandidates(file));
          if (!image && !/(^|\/)label(_2)?\//.test(file)) return undefined;
          const size = image ? await imageSizeOf(dataset, prefix, image) : undefined;
          return readKitti(text, file, resolve, () => size);
        };
    }
  };

  const texts = await mapLimited(files, 16, async (file) => ({ file, text: await readText(prefix + file).catch((error: unknown) => error as Error) }));
  // Two passes: the first only learns which images the files name, so they are found in one go; the second reads.
  const wanted: string[][] = [];
  const learn: ResolveImage = (candidates) => {
    wanted.push(candidates);
    return undefined;
  };
  for (const { file, text } of texts) if (typeof text === 'string' && format !== 'yolo' && format !== 'kitti') await readerFor(file)(text, learn);
  for (const { file } of texts) if (format === 'yolo' || format === 'kitti') wanted.push(imageCandidates(file));
  const found = await resolveImages(dataset, prefix, wanted);
  const resolve: ResolveImage = (candidates) => found.get(listKey(candidates))?.path;

  const results = await mapLimited(texts, 16, async ({ file, text }): Promise<{ file: string; read?: ReadResult }> => {
    if (text instanceof S3Error && text.status === 404) return { file }; // gone since it landed
    if (text instanceof Error && !(text instanceof S3Error)) return { file, read: { images: new Map(), errors: [`cannot read the file: ${text.message}`] } };
    if (text instanceof Error) throw text; // storage trouble: the event is retried
    return { file, read: await readerFor(file)(text, resolve) };
  });

  // Good files apply together (last file wins for an image two files name); bad ones not at all.
  const sizes = new Map([...found.values()].map((f) => [f.path, f.size]));
  const applied = new Map<string, ImageAnnotations>();
  for (const { read } of results) if (read && read.errors.length === 0) for (const [image, annotated] of read.images) applied.set(image, annotated);
  const samples: SampleFile[] = [...applied].map(([path, annotated]) => ({
    path,
    size: sizes.get(path) ?? 0,
    annotations: annotated.annotations,
    ...(annotated.width && annotated.height ? { width: annotated.width, height: annotated.height } : {}),
    ...(annotated.tags ? { tags: annotated.tags } : {}),
  }));
  await registerSamples(dataset, samples);

  const finishedOn = new Date().toISOString();
  const outcomes = results.map(({ file, read }): ImportOutcome => {
    if (!read) return { file, status: 'skipped', samples: 0, annotations: 0, errors: [] };
    const ok = read.errors.length === 0;
    const annotations = ok ? [...read.images.values()].reduce((n, i) => n + i.annotations.length, 0) : 0;
    return { file, status: ok ? 'applied' : 'failed', samples: ok ? read.images.size : 0, annotations, errors: read.errors };
  });
  await mapLimited(
    outcomes.filter((o) => o.status !== 'skipped'),
    16,
    (o) => putItem(annotationImportItem({ datasetId: dataset.id, file: o.file, format, status: o.status as AnnotationImportRecord['status'], samples: o.samples, annotations: o.annotations, errors: o.errors, finishedOn })),
  );
  return outcomes;
}

/** The first of `candidates` that is stored (HEAD each in order; class-name files are few and small). */
async function firstStored(prefix: string, candidates: string[]): Promise<string | undefined> {
  for (const path of candidates) if (await headObject(prefix + path)) return path;
  return undefined;
}

/** The stored files under a folder of the dataset (one listing; only when a class-name file lands). */
async function storedPaths(prefix: string, folder: string): Promise<string[]> {
  const paths: string[] = [];
  let token: string | undefined;
  do {
    const listed = await listObjects(prefix + folder, 1000, { continuationToken: token });
    for (const object of listed.objects) paths.push(object.key.slice(prefix.length));
    token = listed.nextToken;
  } while (token);
  return paths;
}

/** An image's size: from its sample when registered with one, else from its leading bytes. */
async function imageSizeOf(dataset: DatasetRecord, prefix: string, image: string): Promise<{ width: number; height: number } | undefined> {
  const sample = await getItem(sampleKey(dataset.id, sampleIdFor(dataset.id, image)));
  if (sample?.width && sample.height) return { width: Number(sample.width), height: Number(sample.height) };
  return dimensionsOf(await readHeader(prefix + image).catch(() => Buffer.alloc(0)));
}

export { readHeader };
