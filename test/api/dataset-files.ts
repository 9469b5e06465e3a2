import { crc32, deflateSync } from 'node:zlib';
import * as tar from 'tar-stream';
import * as yazl from 'yazl';
import { expect } from 'vitest';
import { apiUrl } from './helpers';

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


/** A real PNG of the given size (grey, with `seed` in its first pixel so each one differs). */
export function png(width: number, height: number, seed = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * height, 0x80);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0; // filter: none
  rows[1] = seed & 0xff;
  if (width >= 2) rows[2] = (seed >> 8) & 0xff;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
