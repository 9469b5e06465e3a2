import { createHash } from 'node:crypto';
import type { Caller } from './caller';
import { datasetPrefix, loadDataset } from './datasets';
import { deleteItem, getItem, putItem, queryPages, type QueryInput, updateItem } from './dynamo';
import type { DatasetRecord } from './entities/dataset';
import { labelsOfDataset } from './entities/label';
import { type SampleRecord, samplesOfDataset } from './entities/sample';
import { versionCounterKey, versionItem, versionKey, type VersionRecord, versionsByDate } from './entities/version';
import { NotFound } from './errors';
import { type Page, readPage } from './pagination';
import { deleteObject, presignGet, putObject } from './s3';
import type { DatasetVersion, VersionCreate } from './schemas/sample';
import { toSample } from './samples';
import { newId } from './tokens';

/**
 * Versions: a dataset's samples and annotations frozen into a manifest in S3 (JSON lines, one sample a
 * line, in path order). The manifest is written once, under a key named by the version's id, and
 * nothing ever writes that key again; its size and SHA-256 are kept on the version, so a job reading a
 * version can check it reads exactly what was frozen.
 */
function toVersion(r: VersionRecord, manifestUrl?: string): DatasetVersion {
  return {
    id: r.id,
    dataset_id: r.datasetId,
    name: r.name,
    description: r.description,
    sample_count: r.sampleCount,
    labeled_count: r.labeledCount,
    labels: r.labels,
    manifest_bytes: r.manifestBytes,
    manifest_sha256: r.manifestSha256,
    created_on: r.createdOn,
    ...(manifestUrl ? { manifest_url: manifestUrl } : {}),
  };
}

/** Where a version's manifest lives: beside the dataset's files, never among them. */
export const manifestKeyOf = (dataset: Pick<DatasetRecord, 'ownerId' | 'id'>, versionId: string) => `${datasetPrefix(dataset)}versions/${versionId}/manifest.jsonl`;

async function readAll(input: QueryInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of queryPages(input)) items.push(...page);
  return items;
}

export async function createVersion(caller: Caller, ownerId: string, datasetId: string, input: VersionCreate): Promise<DatasetVersion> {
  return toVersion(await freezeVersion(await loadDataset(caller, ownerId, datasetId), input));
}

/** Freeze a dataset's samples as they are now into a new version (also what a job's input is pinned to). */
export async function freezeVersion(dataset: Pick<DatasetRecord, 'id' | 'ownerId'>, input: VersionCreate): Promise<VersionRecord> {
  const datasetId = dataset.id;
  const [samples, labels, counter] = await Promise.all([
    readAll(samplesOfDataset(datasetId)) as Promise<unknown[]> as Promise<SampleRecord[]>,
    readAll(labelsOfDataset(datasetId)),
    updateItem(versionCounterKey(datasetId), {
      UpdateExpression: 'SET #entity = :entity ADD #n :one',
      ExpressionAttributeNames: { '#entity': 'entity', '#n': 'n' },
      ExpressionAttributeValues: { ':entity': 'counter', ':one': 1 },
    }),
  ]);
  samples.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines = samples.map((s) => {
    const { revision: _revision, last_modified: _modified, ...frozen } = toSample(s);
    return JSON.stringify(frozen);
  });
  const manifest = Buffer.from(lines.length ? `${lines.join('\n')}\n` : '', 'utf8');
  return storeVersion(dataset, manifest, {
    name: input.name ?? `v${Number(counter.n)}`,
    description: input.description ?? '',
    sampleCount: samples.length,
    labeledCount: samples.filter((s) => s.labels?.length).length,
    labels: labels.map((l) => String(l.name)),
  });
}

/** A new version of a dataset from a manifest (frozen here, or made by a job), written once under its own id. */
export async function storeVersion(
  dataset: Pick<DatasetRecord, 'id' | 'ownerId'>,
  manifest: Buffer,
  about: Pick<VersionRecord, 'name' | 'description' | 'sampleCount' | 'labeledCount' | 'labels'>,
): Promise<VersionRecord> {
  const id = newId();
  const record: VersionRecord = {
    id,
    datasetId: dataset.id,
    ownerId: dataset.ownerId,
    ...about,
    manifestKey: manifestKeyOf(dataset, id),
    manifestBytes: manifest.length,
    manifestSha256: createHash('sha256').update(manifest).digest('hex'),
    createdOn: new Date().toISOString(),
  };
  // The manifest first: a version row never points at a manifest that is not there.
  await putObject(record.manifestKey, manifest, 'application/x-ndjson');
  await putItem(versionItem(record), { ConditionExpression: 'attribute_not_exists(pk)' });
  return record;
}

export async function listVersions(caller: Caller, ownerId: string, datasetId: string, request: { size: number; skip: number; cursor?: string }): Promise<Page<DatasetVersion>> {
  await loadDataset(caller, ownerId, datasetId);
  const page = await readPage(versionsByDate(datasetId), request, { callerId: caller.userId, query: { ns: ownerId, kind: 'version', dataset: datasetId } });
  return { ...page, items: (page.items as unknown as VersionRecord[]).map((v) => toVersion(v)) };
}

async function loadVersion(caller: Caller, ownerId: string, datasetId: string, versionId: string): Promise<VersionRecord> {
  await loadDataset(caller, ownerId, datasetId);
  const record = (await getItem(versionKey(datasetId, versionId), true)) as VersionRecord | undefined;
  if (!record) throw new NotFound('version');
  return record;
}

/** One version, with a presigned URL to its manifest. */
export async function getVersion(caller: Caller, ownerId: string, datasetId: string, versionId: string): Promise<DatasetVersion> {
  const record = await loadVersion(caller, ownerId, datasetId, versionId);
  return toVersion(record, await presignGet(record.manifestKey, `${record.name}.jsonl`));
}

/** Delete a version and its manifest; answers it as it was. */
export async function deleteVersion(caller: Caller, ownerId: string, datasetId: string, versionId: string): Promise<DatasetVersion> {
  const record = await loadVersion(caller, ownerId, datasetId, versionId);
  await deleteItem(versionKey(datasetId, versionId));
  await deleteObject(record.manifestKey);
  return toVersion(record);
}
