import { imageSize } from 'image-size';

/**
 * Image headers: width, height and type from an image's leading bytes (the image-size package), without
 * decoding it. 64 KiB hold the header of every common format (functions/core/samples.ts reads as many).
 */
export const HEADER_BYTES = 64 * 1024;

const MIME_OF_TYPE: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
  tiff: 'image/tiff',
};

export interface ImageHeader {
  width: number;
  height: number;
  /** image-size's type name: png, jpg, gif, bmp, webp, tiff, … */
  type: string;
  /** The MIME type that type has, when it is one samples can have. */
  mime?: string;
}

/** The header's facts, or the reason it cannot be read. */
export function readImageHeader(bytes: Uint8Array): ImageHeader | { error: string } {
  if (bytes.length === 0) return { error: 'the file is empty' };
  try {
    const { width, height, type } = imageSize(bytes);
    if (!width || !height || !type) return { error: 'the header holds no width and height' };
    return { width, height, type, ...(MIME_OF_TYPE[type] ? { mime: MIME_OF_TYPE[type] } : {}) };
  } catch (error) {
    return { error: `not a readable image header: ${(error as Error).message}` };
  }
}
