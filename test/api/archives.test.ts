import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { formUpload as upload, tarball, zipfile } from './dataset-files';
import { type Json, newUser } from './helpers';

/** Archives uploaded into a dataset are unpacked into its files in the background, and reported. */
/** The newest archive report on the dataset, once the background unpacking has written one. */
async function reportOf(api: { get: (path: string) => Promise<{ body: Json }> }, base: string): Promise<Json> {
  for (let waited = 0; waited < 15_000; waited += 100) {
    const report = (await api.get(base)).body.import_status.archives[0];
    if (report) return report;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no archive report on ${base} after 15 s`);
}

describe('archives', () => {
  it('unpacks a .zip (read by ranged reads) the same way, refusing an entry that would escape', async () => {
    const owner = await newUser({ label: 'archives-zip' });
    const dataset = (await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'image_classification', format: 'default' })).body;
    const base = `/api/v1/user/${owner.id}/dataset/${dataset.id}`;
    const good = [
      { name: 'birds/1.png', data: randomBytes(4000) },
      { name: 'birds/2.png', data: randomBytes(100) },
    ];
    await upload(owner, base, 'batch.zip', await zipfile([...good, { name: '../slip.txt', data: Buffer.from('out') }]));
    const report = await reportOf(owner.api, base);
    expect(report).toMatchObject({ archive: 'batch.zip', status: 'unpacked', files: 2 });
    expect(report.refused).toEqual([{ entry: '../slip.txt', reason: expect.stringContaining('refused') }]);
    const listed = (await owner.api.get(`${base}/file`)).body.map((f: Json) => f.path).sort();
    expect(listed).toEqual(['batch.zip', 'birds/1.png', 'birds/2.png']);
    const file = (await owner.api.get(`${base}/file/birds/1.png`)).body;
    expect(Buffer.from(await (await fetch(file.url)).arrayBuffer()).equals(good[0]!.data)).toBe(true);
  });

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
    await upload(owner, base, 'train.tar.gz', archive);

    // Assess: the report arrives on the dataset…
    const report = await reportOf(owner.api, base);
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
    await upload(owner, base, 'broken.tgz', randomBytes(5000));
    const report = await reportOf(owner.api, base);
    expect(report).toMatchObject({ archive: 'broken.tgz', status: 'failed', files: 0 });
    expect(report.error).toEqual(expect.any(String));
  });
});
