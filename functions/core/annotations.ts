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
  readYolo,
} from './annotation-formats';
import { mapLimited } from './concurrency';
import { getItem, putItem } from './dynamo';
import { annotationImportItem, type AnnotationImportRecord } from './entities/annotation-import';
import type { DatasetRecord } from './entities/dataset';
import { sampleIdFor, sampleKey } from './entities/sample';
import { getObjectStream, listObjects } from './s3';
import { dimensionsOf, HEADER_BYTES, registerSamples, type SampleFile } from './samples';
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

async function readHeader(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(key, { start: 0, end: HEADER_BYTES - 1 })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every stored file of the dataset, path → size (1,000 keys a listing call). */
async function storedFiles(prefix: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  let token: string | undefined;
  do {
    const listed = await listObjects(prefix, 1000, { continuationToken: token });
    for (const object of listed.objects) files.set(object.key.slice(prefix.length), object.size);
    token = listed.nextToken;
  } while (token);
  return files;
}

export interface ImportOutcome {
  file: string;
  status: 'applied' | 'failed' | 'skipped';
  samples: number;
  annotations: number;
  errors: string[];
}

/** Import the annotation files at `paths` (dataset-relative) into the dataset's samples. */
export async function importAnnotations(dataset: DatasetRecord, paths: string[]): Promise<ImportOutcome[]> {
  const format = annotationFormatOf(dataset);
  if (!format || paths.length === 0) return [];
  const prefix = datasetFilesPrefix(dataset);
  const stored = await storedFiles(prefix);
  const resolve = (candidates: string[]) => candidates.find((c) => stored.has(c));
  let files = [...new Set(paths)].filter((p) => stored.has(p));
  if (format === 'yolo') {
    // A class-name file (re)applies every label file below its folder: they may have come first.
    const classFolders = files.filter(isYoloClassFile).map((p) => p.slice(0, p.lastIndexOf('/') + 1));
    const labelFiles = [...stored.keys()].filter((p) => /\.txt$/i.test(p) && !isYoloClassFile(p) && classFolders.some((folder) => p.startsWith(folder)));
    files = [...new Set([...files.filter((p) => !isYoloClassFile(p)), ...labelFiles])];
  }
  const classNames = new Map<string, Promise<string[] | undefined>>();
  const namesFor = (labelPath: string) => {
    const file = resolve(classFileCandidates(labelPath));
    if (!file) return Promise.resolve(undefined);
    if (!classNames.has(file)) classNames.set(file, readText(prefix + file).then((text) => readClassNames(file, text)));
    return classNames.get(file)!;
  };

  const results = await mapLimited(files, 16, async (file): Promise<{ file: string; read?: ReadResult; skip?: boolean }> => {
    let text: string;
    try {
      text = await readText(prefix + file);
    } catch (error) {
      return { file, read: { images: new Map(), errors: [`cannot read the file: ${(error as Error).message}`] } };
    }
    switch (format) {
      case 'coco':
        return { file, read: readCoco(text, file, resolve) };
      case 'manifest':
        return { file, read: readManifest(text, file, resolve) };
      case 'yolo': {
        // A .txt with no image and outside any labels/ folder is not a label file (a README, say).
        if (!resolve(imageCandidates(file)) && !/(^|\/)labels\//.test(file)) return { file, skip: true };
        const names = await namesFor(file);
        if (!names) return { file, read: { images: new Map(), errors: ['no class names: put classes.txt, obj.names or data.yaml (names:) in its folder or one above'] } };
        return { file, read: readYolo(text, file, names, resolve) };
      }
      case 'kitti': {
        const image = resolve(imageCandidates(file));
        if (!image && !/(^|\/)label(_2)?\//.test(file)) return { file, skip: true };
        const size = image ? await imageSizeOf(dataset, prefix, image) : undefined;
        return { file, read: readKitti(text, file, resolve, () => size) };
      }
    }
  });

  // Good files apply together (last file wins for an image two files name); bad ones not at all.
  const applied = new Map<string, ImageAnnotations>();
  for (const { read } of results) if (read && read.errors.length === 0) for (const [image, found] of read.images) applied.set(image, found);
  const samples: SampleFile[] = [...applied].map(([path, found]) => ({
    path,
    size: stored.get(path) ?? 0,
    annotations: found.annotations,
    ...(found.width && found.height ? { width: found.width, height: found.height } : {}),
    ...(found.tags ? { tags: found.tags } : {}),
  }));
  await registerSamples(dataset, samples);

  const finishedOn = new Date().toISOString();
  const outcomes = results.map(({ file, read, skip }): ImportOutcome => {
    if (skip || !read) return { file, status: 'skipped', samples: 0, annotations: 0, errors: [] };
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

/** An image's size: from its sample when registered with one, else from its leading bytes. */
async function imageSizeOf(dataset: DatasetRecord, prefix: string, image: string): Promise<{ width: number; height: number } | undefined> {
  const sample = await getItem(sampleKey(dataset.id, sampleIdFor(dataset.id, image)));
  if (sample?.width && sample.height) return { width: Number(sample.width), height: Number(sample.height) };
  return dimensionsOf(await readHeader(prefix + image).catch(() => Buffer.alloc(0)));
}

export { readHeader };
