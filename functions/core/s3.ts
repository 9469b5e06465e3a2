import { config } from './config';
import type { Readable } from 'node:stream';
import { openSigned, presignUrl, sendSigned } from './signed-http';

/**
 * The S3 adapter: presigned URLs for the client to move bytes to and from S3 directly (no dataset byte
 * passes through a function), and the few control calls the server makes itself (multipart upload
 * life cycle, listing, head). Signed by signed-http.ts (aws4), as DynamoDB calls are, for bundle size.
 * Locally the endpoint is s3rver, addressed path-style; in AWS virtual-host style.
 */
export const PRESIGN_SECONDS = 900;

export class S3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/**
 * Object keys are built by the server from ids and validated names; each segment is URI-encoded. A key
 * with an empty, "." or ".." segment is refused outright: URL parsing would collapse it into another
 * key (another user's), so no caller's bug may ever reach storage with one.
 */
function objectUrl(key: string, query: Record<string, string> = {}): URL {
  if (key.split('/').some((segment, i, all) => segment === '.' || segment === '..' || (segment === '' && i < all.length - 1))) {
    throw new S3Error('UnsafeKey', `refused an object key with an empty, "." or ".." segment: ${JSON.stringify(key)}`, 400);
  }
  const { bucketName, region, s3Endpoint } = config();
  const path = key.split('/').map(encodeURIComponent).join('/');
  const url = s3Endpoint ? new URL(`${s3Endpoint}/${bucketName}/${path}`) : new URL(`https://${bucketName}.s3.${region}.amazonaws.com/${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

function bucketUrl(query: Record<string, string>): URL {
  const { bucketName, region, s3Endpoint } = config();
  const url = s3Endpoint ? new URL(`${s3Endpoint}/${bucketName}`) : new URL(`https://${bucketName}.s3.${region}.amazonaws.com/`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url;
}

async function presign(method: 'GET' | 'PUT', url: URL, headers: Record<string, string> = {}): Promise<string> {
  // Headers are signed: a declared Content-Length makes S3 refuse a body of any other size.
  return presignUrl({ url: url.toString(), service: 's3', region: config().region, method, headers }, PRESIGN_SECONDS);
}

/** A single PUT of exactly `size` bytes to `key`. */
export function presignPut(key: string, size: number): Promise<string> {
  return presign('PUT', objectUrl(key), { 'content-length': String(size) });
}

/** One part of a multipart upload, bound to its exact size. */
export function presignUploadPart(key: string, uploadId: string, partNumber: number, size: number): Promise<string> {
  return presign('PUT', objectUrl(key, { partNumber: String(partNumber), uploadId }), { 'content-length': String(size) });
}

/** A download, offered under the file's own name. */
export function presignGet(key: string, filename: string): Promise<string> {
  const disposition = `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`;
  return presign('GET', objectUrl(key, { 'response-content-disposition': disposition }));
}

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD', url: URL, body?: string | Buffer, contentType = 'application/xml') {
  const response = await sendSigned({ url: url.toString(), service: 's3', region: config().region, method, headers: body ? { 'content-type': contentType } : {}, body });
  if (response.status >= 300) {
    const code = xmlValue(response.body, 'Code') ?? `Http${response.status}`;
    throw new S3Error(code, xmlValue(response.body, 'Message') ?? code, response.status);
  }
  return response;
}

export async function createMultipartUpload(key: string): Promise<string> {
  const response = await call('POST', objectUrl(key, { uploads: '' }));
  const uploadId = xmlValue(response.body, 'UploadId');
  if (!uploadId) throw new S3Error('MalformedResponse', 'CreateMultipartUpload answered no UploadId', response.status);
  return uploadId;
}

export async function completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
  const body = `<CompleteMultipartUpload>${parts
    .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`)
    .join('')}</CompleteMultipartUpload>`;
  const response = await call('POST', objectUrl(key, { uploadId }), body);
  // S3 can answer 200 with an error document when completion fails late.
  if (response.body.includes('<Error>')) {
    throw new S3Error(xmlValue(response.body, 'Code') ?? 'InternalError', xmlValue(response.body, 'Message') ?? 'completion failed', 500);
  }
}

/**
 * Abort a multipart upload. Already gone is fine. A store that cannot abort (s3rver answers 405) leaves
 * the parts to the bucket's lifecycle rule, which aborts unfinished uploads after a day.
 */
export async function abortMultipartUpload(key: string, uploadId: string): Promise<void> {
  await call('DELETE', objectUrl(key, { uploadId })).catch((error: unknown) => {
    if (error instanceof S3Error && (error.code === 'NoSuchUpload' || error.status === 405 || error.status === 501)) return;
    throw error;
  });
}

export async function headObject(key: string): Promise<{ size: number; lastModified: string } | undefined> {
  try {
    const response = await call('HEAD', objectUrl(key));
    const modified = response.headers?.['last-modified'];
    return { size: Number(response.headers?.['content-length'] ?? 0), lastModified: new Date(modified ?? Date.now()).toISOString() };
  } catch (error) {
    // S3 answers a HEAD of a missing object with 403, not 404, to a caller without ListBucket on that key
    // (the functions may list only with an s3:prefix, which a HEAD does not carry). Under u/, where they may
    // read every object, a 403 can only mean "not there".
    if (error instanceof S3Error && (error.status === 404 || (error.status === 403 && key.startsWith('u/')))) return undefined;
    throw error;
  }
}

export interface StoredObject {
  key: string;
  size: number;
  lastModified: string;
}

export async function listObjects(
  prefix: string,
  maxKeys: number,
  from: { continuationToken?: string; startAfter?: string } = {},
): Promise<{ objects: StoredObject[]; nextToken?: string }> {
  const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(maxKeys) };
  if (from.continuationToken) query['continuation-token'] = from.continuationToken;
  if (from.startAfter) query['start-after'] = from.startAfter;
  const response = await call('GET', bucketUrl(query));
  const objects = [...response.body.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map(([, entry]) => ({
    key: unescapeXml(xmlValue(entry!, 'Key') ?? ''),
    size: Number(xmlValue(entry!, 'Size') ?? 0),
    lastModified: new Date(xmlValue(entry!, 'LastModified') ?? 0).toISOString(),
  }));
  const truncated = xmlValue(response.body, 'IsTruncated') === 'true';
  const nextToken = truncated ? unescapeXml(xmlValue(response.body, 'NextContinuationToken') ?? '') || undefined : undefined;
  return { objects, nextToken };
}

/** S3's answers are small, flat XML documents: the first element of a name is all we read. */
function xmlValue(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function unescapeXml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16))).replace(/&amp;/g, '&');
}

/** An object's bytes as a stream, never whole in memory (archives to unpack). */
export async function getObjectStream(key: string, range?: { start: number; end: number }): Promise<Readable> {
  // `end` is exclusive here, inclusive in HTTP's Range.
  const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end - 1}` } : {};
  const { status, body } = await openSigned({ url: objectUrl(key).toString(), service: 's3', region: config().region, method: 'GET', headers });
  if (status >= 300) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    throw new S3Error(xmlValue(text, 'Code') ?? `Http${status}`, xmlValue(text, 'Message') ?? 'GetObject failed', status);
  }
  return body;
}

/** A small object the server writes itself (the TAO form upload, at most a few MB). */
/** An object's bytes, whole (or a byte range): for small objects only (status, specs, logs, headers). */
export async function readObject(key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(key, range)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An object parsed as JSON; undefined when it is missing or not JSON (a worker's file may be either). */
export async function readJsonObject<T>(key: string): Promise<T | undefined> {
  try {
    return JSON.parse((await readObject(key)).toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function putObject(key: string, data: Buffer, contentType = 'application/octet-stream'): Promise<void> {
  await call('PUT', objectUrl(key), data, contentType);
}

export async function deleteObject(key: string): Promise<void> {
  await call('DELETE', objectUrl(key));
}
