import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiUrl, fetchBytes, type Json, newUser, type TestUser } from './helpers';

/**
 * Upload sessions: bytes go from the client to storage through presigned URLs, never through the API.
 * Every request to the API is measured here; the storage host is a different origin.
 */
let owner: TestUser;
let datasetId: string;
let base: string;
/** The largest request body this suite sent to the API. */
let largestApiBody = 0;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function api(method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
  const body = json === undefined ? undefined : JSON.stringify(json);
  largestApiBody = Math.max(largestApiBody, body ? Buffer.byteLength(body) : 0);
  const reply = await owner.api.request(method, path, json);
  return { status: reply.status, body: reply.body };
}

async function putToStorage(url: string, data: Uint8Array): Promise<string> {
  expect(new URL(url).origin).not.toBe(new URL(apiUrl()).origin);
  const response = await fetch(url, { method: 'PUT', body: data });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.headers.get('etag') ?? '';
}

async function download(path: string): Promise<Uint8Array> {
  const file = await api('GET', `${base}/file/${path}`);
  expect(file.status).toBe(200);
  return new Uint8Array(await fetchBytes(file.body.url));
}

beforeAll(async () => {
  owner = await newUser({ label: 'uploads' });
  const created = await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'image_classification', format: 'default' });
  datasetId = created.body.id;
  base = `/api/v1/user/${owner.id}/dataset/${datasetId}`;
});

describe('upload sessions', () => {
  it('moves a 200 MB file through presigned multipart parts and reads back identical bytes', async () => {
    // Prepare
    const size = 200 * 1024 * 1024;
    const data = randomBytes(size);

    // Act
    const started = await api('POST', `${base}/upload`, { files: [{ name: 'big/archive.bin', size }] });
    expect(started.status).toBe(201);
    const [file] = started.body.files;
    expect(file).toMatchObject({ name: 'big/archive.bin', size, mode: 'multipart', status: 'pending' });
    expect(file.part_size).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(file.part_size).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(file.parts).toHaveLength(file.part_count);
    expect(Date.parse(started.body.urls_expire_on) - Date.now()).toBeLessThanOrEqual(15 * 60 * 1000);
    const etags: { part_number: number; etag: string }[] = [];
    const queue = [...file.parts];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let part = queue.shift(); part; part = queue.shift()) {
          const start = (part.part_number - 1) * file.part_size;
          const chunk = data.subarray(start, start + part.size);
          expect(chunk.length).toBe(part.size);
          etags.push({ part_number: part.part_number, etag: await putToStorage(part.url, chunk) });
        }
      }),
    );
    const completed = await api('POST', `${base}/upload/${started.body.id}/complete`, { files: [{ name: 'big/archive.bin', parts: etags }] });

    // Assess
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    expect(completed.body.status).toBe('completed');
    expect(sha256(await download('big/archive.bin'))).toBe(sha256(data));
    expect(largestApiBody).toBeLessThan(1024 * 1024);
  });

  it('takes small files in one PUT each, lists them in path order with a cursor, and serves them back', async () => {
    const files = ['imgs/a.png', 'imgs/b.png', 'imgs/c.png', 'labels.json', 'readme.txt'].map((name) => ({ name, data: randomBytes(100 + name.length) }));
    const started = await api('POST', `${base}/upload`, { files: files.map((f) => ({ name: f.name, size: f.data.length })) });
    expect(started.status).toBe(201);
    for (const f of files) {
      const planned = started.body.files.find((p: Json) => p.name === f.name);
      expect(planned.mode).toBe('single');
      await putToStorage(planned.url, f.data);
    }
    const completed = await api('POST', `${base}/upload/${started.body.id}/complete`);
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    expect(completed.body.files.every((f: Json) => f.status === 'uploaded')).toBe(true);

    const seen: string[] = [];
    let cursor: string | undefined;
    let total: number;
    do {
      const page = await owner.api.get(`${base}/file?size=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.map((f: Json) => f.path));
      total = Number(page.headers.get('x-pagination-total'));
      cursor = page.headers.get('x-next-cursor') ?? undefined;
    } while (cursor);
    const small = seen.filter((p) => !p.startsWith('big/'));
    expect(small).toEqual(files.map((f) => f.name).sort());
    expect(total).toBe(seen.length);
    expect(sha256(await download('imgs/b.png'))).toBe(sha256(files[1]!.data));
  });

  it('refuses to complete a file whose bytes are not all there, naming it, and keeps the session open', async () => {
    const started = await api('POST', `${base}/upload`, { files: [{ name: 'short.bin', size: 10 }, { name: 'never.bin', size: 3 }] });
    // The storage stand-in does not check signatures, so the signed length is not enforced here: completion is.
    await putToStorage(started.body.files[0].url, randomBytes(5));
    const completed = await api('POST', `${base}/upload/${started.body.id}/complete`);
    expect(completed.status).toBe(409);
    expect(completed.body.error_desc).toContain('short.bin (5 bytes, 10 declared)');
    expect(completed.body.error_desc).toContain('never.bin (not uploaded)');
    const session = await api('GET', `${base}/upload/${started.body.id}`);
    expect(session.body.status).toBe('open');
    expect(session.body.files.map((f: Json) => f.status)).toEqual(['pending', 'pending']);
  });

  it('renews URLs for files not yet uploaded, and aborts: nothing of the aborted files remains', async () => {
    const started = await api('POST', `${base}/upload`, { files: [{ name: 'later/huge.bin', size: 100 * 1024 * 1024 }] });
    const renewed = await api('POST', `${base}/upload/${started.body.id}/renew`);
    expect(renewed.status).toBe(200);
    expect(renewed.body.files[0].parts).toHaveLength(started.body.files[0].part_count);
    await putToStorage(renewed.body.files[0].parts[0].url, randomBytes(renewed.body.files[0].parts[0].size));
    const aborted = await api('DELETE', `${base}/upload/${started.body.id}`);
    expect(aborted.status).toBe(200);
    expect(aborted.body.status).toBe('aborted');
    expect((await api('POST', `${base}/upload/${started.body.id}/complete`)).status).toBe(409);
    expect((await api('GET', `${base}/file/later/huge.bin`)).status).toBe(404);
  });

  it.each([['../escape.txt'], ['/etc/passwd'], ['a//b.txt'], ['dir/./x'], ['bad\u0001name'], ['back\\slash'], ['']])(
    'refuses the file name %j with a 400',
    async (name) => {
      const reply = await api('POST', `${base}/upload`, { files: [{ name, size: 1 }] });
      expect(reply.status).toBe(400);
      expect(reply.body.details[0].path.slice(0, 2)).toEqual(['body', 'files']);
    },
  );

  it('refuses duplicate names, negative or huge sizes, and unknown fields', async () => {
    for (const files of [
      [{ name: 'x', size: 1 }, { name: 'x', size: 2 }],
      [{ name: 'x', size: -1 }],
      [{ name: 'x', size: 1e15 }],
      [{ name: 'x', size: 1, path: 'u/other/key' }],
    ]) {
      expect((await api('POST', `${base}/upload`, { files })).status).toBe(400);
    }
  });

  it("answers 404 for another user's upload, file or dataset, and for an upload of another dataset", async () => {
    const started = await api('POST', `${base}/upload`, { files: [{ name: 'mine.txt', size: 1 }] });
    const stranger = await newUser({ label: 'uploads-stranger' });
    expect((await stranger.api.get(`${base}/upload/${started.body.id}`)).status).toBe(404);
    expect((await stranger.api.delete(`${base}/upload/${started.body.id}`)).status).toBe(404);
    expect((await stranger.api.get(`${base}/file`)).status).toBe(404);
    expect((await stranger.api.get(`${base}/file/imgs/a.png`)).status).toBe(404);
    const strangersOwn = await stranger.api.post(`/api/v1/user/${stranger.id}/dataset`, { type: 'object_detection', format: 'coco' });
    expect((await stranger.api.get(`/api/v1/user/${stranger.id}/dataset/${strangersOwn.body.id}/upload/${started.body.id}`)).status).toBe(404);
    // The upload is untouched.
    expect((await api('GET', `${base}/upload/${started.body.id}`)).body.status).toBe('open');
  });
});

describe("TAO's form upload", () => {
  const form = (field: string, name: string, data: Uint8Array) => {
    const body = new FormData();
    body.append(field, new Blob([data]), name);
    return body;
  };
  const post = (body: FormData) =>
    fetch(`${apiUrl()}${base}/upload`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}` }, body });

  it('stores a small archive sent as multipart/form-data among the dataset files: 201, as TAO answers', async () => {
    const archive = randomBytes(300_000);
    const response = await post(form('file', 'train.tar.gz', archive));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ message: 'Data successfully uploaded' });
    expect(sha256(await download('train.tar.gz'))).toBe(sha256(archive));
  });

  it('answers 413 above 5 MB, pointing at upload sessions, and stores nothing', async () => {
    const response = await post(form('file', 'huge.tar', randomBytes(6 * 1024 * 1024)));
    expect(response.status).toBe(413);
    const body = (await response.json()) as Json;
    expect(body).toMatchObject({ error_code: 413, code: 'too_large' });
    expect(body.error_desc).toContain('upload session');
    expect((await api('GET', `${base}/file/huge.tar`)).status).toBe(404);
  });

  it('answers 400 when the form has no `file` field, or a file name that could escape', async () => {
    expect((await post(form('archive', 'x.tar', randomBytes(10)))).status).toBe(400);
    expect((await post(form('file', '..', randomBytes(10)))).status).toBe(400);
  });
});
