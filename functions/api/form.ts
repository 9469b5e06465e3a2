import busboy from 'busboy';
import { BadRequest, TooLarge } from '../core/errors';
import type { HttpEvent } from './http';

/**
 * One file from a multipart/form-data body (TAO's form upload), parsed by busboy. The body has already
 * passed API Gateway's 10 MB limit; `maxBytes` is the route's own, smaller one.
 */
export interface FormFile {
  filename: string;
  data: Buffer;
}

export function readFormFile(event: HttpEvent, field: string, maxBytes: number, tooLarge: string): Promise<FormFile> {
  const raw = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > maxBytes + 64 * 1024) throw new TooLarge(tooLarge);
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': event.headers?.['content-type'] ?? '' }, limits: { files: 1, fileSize: maxBytes } });
    } catch (error) {
      return reject(new BadRequest(`malformed form: ${(error as Error).message}`));
    }
    let found: FormFile | undefined;
    let truncated = false;
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => (truncated = true));
      stream.on('end', () => {
        if (name === field) found = { filename: info.filename ?? '', data: Buffer.concat(chunks) };
      });
    });
    parser.on('error', (error) => reject(new BadRequest(`malformed form: ${(error as Error).message}`)));
    parser.on('close', () => {
      if (truncated) reject(new TooLarge(tooLarge));
      else if (!found) reject(new BadRequest(`the form has no file in the field "${field}"`, [{ path: ['form', field], message: 'missing' }]));
      else resolve(found);
    });
    parser.end(raw);
  });
}
