import { crc32, deflateSync, inflateSync } from 'node:zlib';

/**
 * Just enough PNG to flip an image losslessly: decode (zlib + the five row filters), move whole pixels,
 * encode again. Non-interlaced images whose pixels are whole bytes: 8-bit greyscale, greyscale+alpha,
 * RGB, RGBA and palette, and the 16-bit variants of the first four. Anything else is a PngError naming
 * why, so the caller can report the image as skipped.
 */
export class PngError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PngError';
  }
}

export interface PngImage {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  bytesPerPixel: number;
  /** Unfiltered scanlines, `height` rows of `width * bytesPerPixel` bytes, no filter bytes. */
  pixels: Buffer;
  /** Chunks that describe the pixels (palette, transparency, colour space, pixel size), kept in order. */
  chunks: { type: string; data: Buffer }[];
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const COLOUR_NAMES: Record<number, string> = { 0: 'greyscale', 2: 'RGB', 3: 'palette', 4: 'greyscale+alpha', 6: 'RGBA' };
/** Chunks that stay true of a flipped image; the rest (text, time, …) are left out. */
const KEPT_CHUNKS = new Set(['PLTE', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'pHYs']);
/** The largest decoded image handled (bytes of pixels); bigger ones are refused, not risked. */
export const MAX_PIXEL_BYTES = 256 * 1024 * 1024;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(SIGNATURE);
}

export function decodePng(input: Uint8Array): PngImage {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isPng(buf)) throw new PngError('not a PNG file');
  let at = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  const chunks: { type: string; data: Buffer }[] = [];
  let ended = false;
  while (at + 12 <= buf.length) {
    const length = buf.readUInt32BE(at);
    if (at + 12 + length > buf.length) throw new PngError('truncated chunk');
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (crc32(buf.subarray(at + 4, at + 8 + length)) !== buf.readUInt32BE(at + 8 + length)) throw new PngError(`${type} chunk fails its CRC`);
    at += 12 + length;
    if (type === 'IHDR') header = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    } else if (KEPT_CHUNKS.has(type)) chunks.push({ type, data: Buffer.from(data) });
  }
  if (!header || header.length !== 13) throw new PngError('no IHDR chunk');
  if (!ended) throw new PngError('no IEND chunk (truncated file)');
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [bitDepth, colorType, compression, filter, interlace] = [header[8]!, header[9]!, header[10]!, header[11]!, header[12]!];
  const channels = CHANNELS[colorType];
  if (!channels || compression !== 0 || filter !== 0) throw new PngError('unknown colour type, compression or filter method');
  if (interlace !== 0) throw new PngError('interlaced PNGs are not supported');
  if (bitDepth !== 8 && !(bitDepth === 16 && colorType !== 3)) throw new PngError(`${bitDepth}-bit ${COLOUR_NAMES[colorType]} PNGs are not supported (only 8-bit, and 16-bit non-palette)`);
  if (!width || !height) throw new PngError('zero width or height');
  const bytesPerPixel = (channels * bitDepth) / 8;
  const stride = width * bytesPerPixel;
  if (stride * height > MAX_PIXEL_BYTES) throw new PngError(`the image is too large to flip here (${width}x${height})`);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: (stride + 1) * height + 1 });
  } catch (error) {
    throw new PngError(`the image data does not inflate: ${(error as Error).message}`);
  }
  if (raw.length !== (stride + 1) * height) throw new PngError(`the image data has ${raw.length} bytes, ${(stride + 1) * height} expected`);
  return { width, height, bitDepth, colorType, bytesPerPixel, pixels: unfilter(raw, stride, height, bytesPerPixel), chunks };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function unfilter(raw: Buffer, stride: number, height: number, bpp: number): Buffer {
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    const prior = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0;
      const b = y > 0 ? out[prior + x]! : 0;
      const c = y > 0 && x >= bpp ? out[prior + x - bpp]! : 0;
      let predictor: number;
      switch (type) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) >> 1;
          break;
        case 4:
          predictor = paeth(a, b, c);
          break;
        default:
          throw new PngError(`row ${y} has the unknown filter type ${type}`);
      }
      out[row + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return out;
}

/** Filters each row with the filter whose output has the least sum of absolute values (libpng's heuristic). */
function filter(pixels: Buffer, stride: number, height: number, bpp: number): Buffer {
  const out = Buffer.alloc((stride + 1) * height);
  const candidate = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    let best = Infinity;
    for (let type = 0; type <= 4; type++) {
      let sum = 0;
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? pixels[row + x - bpp]! : 0;
        const b = y > 0 ? pixels[row - stride + x]! : 0;
        const c = y > 0 && x >= bpp ? pixels[row - stride + x - bpp]! : 0;
        const predictor = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : paeth(a, b, c);
        const v = (pixels[row + x]! - predictor) & 0xff;
        candidate[x] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < best) {
        best = sum;
        out[y * (stride + 1)] = type;
        candidate.copy(out, y * (stride + 1) + 1);
      }
    }
  }
  return out;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(data.length + 12);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

export function encodePng(image: PngImage): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(image.width, 0);
  header.writeUInt32BE(image.height, 4);
  header[8] = image.bitDepth;
  header[9] = image.colorType;
  const stride = image.width * image.bytesPerPixel;
  const data = deflateSync(filter(image.pixels, stride, image.height, image.bytesPerPixel));
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), ...image.chunks.map((c) => chunk(c.type, c.data)), chunk('IDAT', data), chunk('IEND', Buffer.alloc(0))]);
}

export type Flip = 'horizontal' | 'vertical';

/** The image mirrored left-right (horizontal) or top-bottom (vertical). */
export function flipImage(image: PngImage, flip: Flip): PngImage {
  const { width, height, bytesPerPixel: bpp } = image;
  const stride = width * bpp;
  const pixels = Buffer.alloc(image.pixels.length);
  for (let y = 0; y < height; y++) {
    const from = y * stride;
    if (flip === 'vertical') {
      image.pixels.copy(pixels, (height - 1 - y) * stride, from, from + stride);
      continue;
    }
    for (let x = 0; x < width; x++) image.pixels.copy(pixels, from + (width - 1 - x) * bpp, from + x * bpp, from + (x + 1) * bpp);
  }
  return { ...image, pixels };
}

export function flipPng(bytes: Uint8Array, flip: Flip): { png: Buffer; width: number; height: number } {
  const image = decodePng(bytes);
  return { png: encodePng(flipImage(image, flip)), width: image.width, height: image.height };
}
