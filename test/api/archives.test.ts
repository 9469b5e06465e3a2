import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { apiUrl, type Json, newUser } from './helpers';

/** Archives uploaded into a dataset are unpacked into its files in the background, and reported. */
async function tarball(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, size: entry.data.length }, entry.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('archives', () => {
  it('unpacks a .tar.gz beside it, refuses entries that would escape, and reports both on the dataset', async () => {
    // Prepare
    const owner = await newUser({ label: 'archives' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'image_classification', format: 'default' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const good = [
      { name: 'cats/1.jpg', data: randomBytes(2000) },
      { name: './dogs/2.jpg', data: randomBytes(3000) },
    ];
    const bad = [
      { name: '../../../escape.txt', data: Buffer.from('out') },
      { name: 'dogs/../../x.txt', data: Buffer.from('out') },
    ];
    const archive = gzipSync(await tarball([...good, ...bad]));

    // Act: TAO's form upload (any upload into the dataset's files would do)
    const body = new FormData();
    body.append('file', new Blob([archive]), 'train.tar.gz');
    const posted = await fetch(`${apiUrl()}${base}/upload`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` }, body });
    expect(posted.status).toBe(201);

    // Assess: the report arrives on the dataset…
    let report: Json;
    for (let waited = 0; !report && waited < 15_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      report = (await owner.api.get(base)).body.import_status.archives[0];
    }
    expect(report).toMatchObject({ archive: 'train.tar.gz', status: 'unpacked', files: 2 });
    expect(report.refused.map((r: Json) => r.entry).sort()).toEqual(['../../../escape.txt', 'dogs/../../x.txt']);
    // …and the entries are files of the dataset, byte for byte; nothing escaped.
    const listed = (await owner.api.get(`${base}/file`)).body.map((f: Json) => f.path).sort();
    expect(listed).toEqual(['cats/1.jpg', 'dogs/2.jpg', 'train.tar.gz']);
    for (const [path, data] of [['cats/1.jpg', good[0]!.data], ['dogs/2.jpg', good[1]!.data]] as const) {
      const file = (await owner.api.get(`${base}/file/${path}`)).body;
      expect(Buffer.from(await (await fetch(file.url)).arrayBuffer()).equals(data)).toBe(true);
    }
  });

  it('reports an archive that cannot be read as failed, with the reason', async () => {
    const owner = await newUser({ label: 'archives-bad' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'object_detection', format: 'coco' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const body = new FormData();
    body.append('file', new Blob([randomBytes(5000)]), 'broken.tgz');
    expect((await fetch(`${apiUrl()}${base}/upload`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` }, body })).status).toBe(201);
    let report: Json;
    for (let waited = 0; !report && waited < 15_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      report = (await owner.api.get(base)).body.import_status.archives[0];
    }
    expect(report).toMatchObject({ archive: 'broken.tgz', status: 'failed', files: 0 });
    expect(report.error).toEqual(expect.any(String));
  });
});
