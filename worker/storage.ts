import { createRequire } from 'node:module';
import type * as S3 from '@aws-sdk/client-s3';

// The SDK through require (its CommonJS build): under tsx's ESM loader, which sees every one of the SDK's
// few hundred modules, the ESM import costs about 0.3 s more CPU at each job's start.
const { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } = createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof S3;

/**
 * The worker's one S3 client (the AWS SDK: in the container it finds the task role's credentials by
 * itself). Locally the endpoint is s3rver, addressed path-style; checksums only when required, or s3rver
 * stores streamed uploads with their aws-chunked framing (STACK.md). "Not found" answers undefined;
 * every other failure throws.
 */
export interface StorageOptions {
  bucket: string;
  region: string;
  endpoint?: string;
  /** Only for tests and tools: the worker itself takes the SDK's default chain (env locally, the task role in AWS). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface CallOptions {
  signal?: AbortSignal;
}

export class Storage {
  readonly bucket: string;
  private readonly client: S3.S3Client;

  constructor(options: StorageOptions) {
    this.bucket = options.bucket;
    this.client = new S3Client({
      region: options.region,
      // In AWS a region that is not the bucket's is survivable: follow S3's redirect instead of failing.
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : { followRegionRedirects: true }),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 4,
    });
  }

  /** The whole object, or undefined when there is none. */
  async get(key: string, options: CallOptions = {}): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async getText(key: string, options: CallOptions = {}): Promise<string | undefined> {
    return (await this.get(key, options))?.toString('utf8');
  }

  /**
   * The first `bytes` bytes of an object and its whole size, in one ranged GET; undefined when there is
   * no such object. An empty object (S3 refuses a range of it) answers no bytes and size 0.
   */
  async getHead(key: string, bytes: number, options: CallOptions = {}): Promise<{ bytes: Buffer; size: number } | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${bytes - 1}` }), { abortSignal: options.signal });
      const body = Buffer.from(await out.Body!.transformToByteArray());
      const total = /\/(\d+)\s*$/.exec(out.ContentRange ?? '')?.[1];
      return { bytes: body, size: total !== undefined ? Number(total) : (out.ContentLength ?? body.length) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      if (statusOf(error) === 416) {
        const size = await this.size(key, options);
        return size === undefined ? undefined : { bytes: Buffer.alloc(0), size };
      }
      throw error;
    }
  }

  /** An object's size, or undefined when there is none. */
  async size(key: string, options: CallOptions = {}): Promise<number | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      return out.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: string | Uint8Array, contentType: string, options: CallOptions = {}): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }), { abortSignal: options.signal });
  }

  putJson(key: string, value: unknown, options: CallOptions = {}): Promise<void> {
    return this.put(key, `${JSON.stringify(value, null, 2)}\n`, 'application/json', options);
  }

  destroy(): void {
    this.client.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}
