import * as tar from 'tar-stream';
import * as yazl from 'yazl';
import { expect } from 'vitest';
import { encodePng } from '../../worker/png';
import { apiUrl, datasetsPath, type Json, mapLimit, type TestUser } from './helpers';

/** Building dataset files for API tests: archives, real images, and the form upload that sends them. */
/** A tar of the entries, as given (names unchecked: tests send hostile ones). */
export async function tarball(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, size: entry.data.length }, entry.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A zip of the entries; names with `../` are patched in raw after yazl, as a hostile client would. */
export async function zipfile(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  // yazl refuses unsafe names itself; the raw name is patched in after, as a hostile client would.
  for (const entry of entries) zip.addBuffer(entry.data, entry.name.replace(/\.\.\//g, 'XX/'));
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  let bytes = Buffer.concat(chunks);
  for (const entry of entries) {
    const safe = Buffer.from(entry.name.replace(/\.\.\//g, 'XX/'));
    const raw = Buffer.from(entry.name);
    if (!safe.equals(raw)) bytes = Buffer.from(bytes.toString('latin1').split(safe.toString('latin1')).join(raw.toString('latin1')), 'latin1');
  }
  return bytes;
}

/** TAO's form upload of one file (≤ 5 MB) into a dataset; `base` is the dataset's API path. */
export async function formUpload(owner: { token: string }, base: string, name: string, data: Buffer): Promise<void> {
  const body = new FormData();
  body.append('file', new Blob([data]), name);
  const posted = await fetch(`${apiUrl()}${base}/upload`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` }, body });
  expect(posted.status).toBe(201);
}


/** A real PNG of the given size (grey, with `seed` in its first pixels so each one differs). */
export function png(width: number, height: number, seed = 0): Buffer {
  const pixels = Buffer.alloc(width * height, 0x80);
  pixels[0] = seed & 0xff;
  if (width * height > 1) pixels[1] = (seed >> 8) & 0xff;
  return encodePng({ width, height, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels, chunks: [] });
}

/** A fresh dataset of the user's; answers its id and API path. */
export async function newDataset(user: TestUser, body: Json = { type: 'object_detection', format: 'coco' }): Promise<{ id: string; base: string }> {
  const created = await user.api.post(datasetsPath(user.id), body);
  expect(created.status, created.text).toBe(201);
  return { id: created.body.id, base: `${datasetsPath(user.id)}/${created.body.id}` };
}

/** PUT bytes to a presigned URL, retrying a reused connection the storage stand-in closed. */
export async function putBytes(url: string, data: Uint8Array): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(url, { method: 'PUT', body: data });
      expect(response.status, await response.text()).toBe(200);
      return;
    } catch (error) {
      if (attempt >= 3 || !String((error as { cause?: { code?: string } }).cause?.code ?? '').startsWith('UND_ERR_SOCKET')) throw error;
    }
  }
}

/** Store files in the dataset through one upload session (a PUT each, then complete); answers the session id. */
export async function store(user: TestUser, base: string, files: Record<string, Uint8Array>): Promise<string> {
  const started = await user.api.post(`${base}/upload`, { files: Object.entries(files).map(([name, data]) => ({ name, size: data.length })) });
  expect(started.status, started.text).toBe(201);
  await mapLimit(started.body.files as Json[], 8, (planned) => putBytes(planned.url, files[planned.name]!));
  const completed = await user.api.post(`${base}/upload/${started.body.id}/complete`);
  expect(completed.status, completed.text).toBe(200);
  return started.body.id;
}

/** A box in fractions of the image. */
export const box = (x: number, y: number, w = 0.2, h = 0.2) => ({ x, y, w, h });
