import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { newUser } from './helpers';

/**
 * Deleting a dataset: nothing of it is reachable at once, and its files and rows leave storage in the
 * background.
 * Storage is checked where the storage stand-in (s3rver) keeps objects: files under the data directory.
 */
async function storedFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    // The purge removed a folder while it was being walked: walk again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return storedFiles(dir);
    throw error;
  }
  // s3rver keeps each object's bytes in `<key>._S3rver_object` (beside its metadata and checksum files).
  return entries.filter((e) => e.isFile() && e.name.endsWith('._S3rver_object')).map((e) => join(e.parentPath, e.name));
}

/** Rows left in the dataset's partitions (samples, labels, versions, import reports) and its counters. */
async function rowsOf(datasetId: string): Promise<number> {
  const client = new DynamoDBClient({ endpoint: inject('tableEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const partitions = ['sample', 'label', 'version', 'import'].map((kind) => `dataset#${datasetId}#${kind}`);
  partitions.push(`counter#dataset#${datasetId}#sample`, `counter#dataset#${datasetId}#version`);
  let rows = 0;
  for (const pk of partitions) {
    const out = await client.send(new QueryCommand({ TableName: 'trainyard', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: pk } }, Select: 'COUNT' }));
    rows += out.Count ?? 0;
  }
  client.destroy();
  return rows;
}

describe('deleting a dataset', () => {
  it('hides everything at once and reclaims its storage in the background', async () => {
    // Prepare: a dataset with files from a session, and a session still open.
    const owner = await newUser({ label: 'delete' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'object_detection', format: 'coco' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const files = [1, 2, 3].map((n) => ({ name: `img/${n}.jpg`, data: randomBytes(1000 * n) }));
    const session = (await owner.api.post(`${base}/upload`, { files: files.map((f) => ({ name: f.name, size: f.data.length })) })).body;
    for (const [i, f] of files.entries()) expect((await fetch(session.files[i].url, { method: 'PUT', body: f.data })).status).toBe(200);
    expect((await owner.api.post(`${base}/upload/${session.id}/complete`)).status).toBe(200);
    const open = (await owner.api.post(`${base}/upload`, { files: [{ name: 'pending.bin', size: 10 }] })).body;
    // Samples (the three images, by themselves), a label, a version: rows of their own in the table.
    for (let waited = 0; (await owner.api.get(`${base}/stats`)).body.sample_count < 3 && waited < 15_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    const sample = (await owner.api.get(`${base}/sample`)).body[0];
    expect((await owner.api.post(`${base}/label`, { name: 'car' })).status).toBe(201);
    const version = (await owner.api.post(`${base}/version`, {})).body;
    expect(await rowsOf(dataset.id)).toBeGreaterThanOrEqual(3 + 1 + 1);
    const onDisk = join(inject('dataDir'), 's3', 'trainyard-local', 'u', owner.id, 'dataset', dataset.id);
    expect(await storedFiles(onDisk)).toHaveLength(3 + 1); // the files and the version's manifest

    // Act
    const deleted = await owner.api.delete(base);

    // Assess: gone at once from every route…
    expect(deleted.status).toBe(200);
    expect((await owner.api.get(base)).status).toBe(404);
    expect((await owner.api.get(`${base}/file`)).status).toBe(404);
    expect((await owner.api.get(`${base}/file/img/1.jpg`)).status).toBe(404);
    expect((await owner.api.get(`${base}/upload/${open.id}`)).status).toBe(404);
    for (const path of ['sample', `sample/${sample.id}`, 'label', 'version', `version/${version.id}`, 'stats']) expect((await owner.api.get(`${base}/${path}`)).status).toBe(404);
    // …and from storage and the table soon after.
    let left = await storedFiles(onDisk);
    for (let waited = 0; left.length > 0 && waited < 15_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      left = await storedFiles(onDisk);
    }
    expect(left).toEqual([]);
    let rows = await rowsOf(dataset.id);
    for (let waited = 0; rows > 0 && waited < 15_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      rows = await rowsOf(dataset.id);
    }
    expect(rows).toBe(0);
  });
});
