import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { imageSize } from 'image-size';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, flipImage, flipPng, isPng, PngError } from '../../worker/png';

/**
 * The worker's PNG codec as augment uses it: a flipped image is the same pixels mirrored, bit for bit, in
 * a file any PNG reader opens; what it cannot flip it refuses with a reason instead of writing garbage.
 */

/** A PNG written the plain way (every row filter 0), independent of the worker's encoder. */
function rawPng(width: number, height: number, colorType: number, pixels: Buffer, options: { bitDepth?: number; interlace?: number; palette?: Buffer } = {}): Buffer {
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
  header[8] = options.bitDepth ?? 8;
  header[9] = colorType;
  header[12] = options.interlace ?? 0;
  const stride = pixels.length / height;
  const rows = Buffer.concat(Array.from({ length: height }, (_, y) => Buffer.concat([Buffer.from([0]), pixels.subarray(y * stride, (y + 1) * stride)])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    ...(options.palette ? [chunk('PLTE', options.palette)] : []),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Deterministic pixel bytes with gradients and noise, so every row filter has something to win on. */
function pixelsOf(width: number, height: number, bpp: number, seed = 7): Buffer {
  const out = Buffer.alloc(width * height * bpp);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const x = Math.floor(i / bpp) % width;
    const y = Math.floor(i / bpp / width);
    out[i] = y % 3 === 0 ? (x * 7 + y) & 0xff : y % 3 === 1 ? s & 0xff : (x * y) & 0xff;
  }
  return out;
}

/** The expected mirror image of raw pixels. */
function mirrored(pixels: Buffer, width: number, height: number, bpp: number, flip: 'horizontal' | 'vertical'): Buffer {
  const out = Buffer.alloc(pixels.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [tx, ty] = flip === 'horizontal' ? [width - 1 - x, y] : [x, height - 1 - y];
      pixels.copy(out, (ty * width + tx) * bpp, (y * width + x) * bpp, (y * width + x + 1) * bpp);
    }
  return out;
}

const KINDS = [
  { name: '8-bit greyscale', colorType: 0, bitDepth: 8, bpp: 1 },
  { name: '8-bit RGB', colorType: 2, bitDepth: 8, bpp: 3 },
  { name: '8-bit RGBA', colorType: 6, bitDepth: 8, bpp: 4 },
  { name: '8-bit greyscale+alpha', colorType: 4, bitDepth: 8, bpp: 2 },
  { name: '16-bit RGB', colorType: 2, bitDepth: 16, bpp: 6 },
];

describe('PNG flip', () => {
  for (const kind of KINDS) {
    it(`${kind.name}: the flipped file decodes to exactly the mirrored pixels, both ways`, () => {
      // Prepare
      const [width, height] = [13, 9];
      const pixels = pixelsOf(width, height, kind.bpp);
      const file = rawPng(width, height, kind.colorType, pixels, { bitDepth: kind.bitDepth });
      for (const flip of ['horizontal', 'vertical'] as const) {
        // Act
        const out = flipPng(file, flip);
        const decoded = decodePng(out.png);
        // Assess
        expect(decoded.pixels.equals(mirrored(pixels, width, height, kind.bpp, flip))).toBe(true);
        expect([decoded.width, decoded.height, decoded.colorType, decoded.bitDepth]).toEqual([width, height, kind.colorType, kind.bitDepth]);
        expect(imageSize(out.png)).toMatchObject({ width, height, type: 'png' });
      }
    });
  }

  it('a palette image keeps its palette; flipping twice gives the original pixels back', () => {
    // Prepare
    const palette = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255]);
    const pixels = Buffer.from([0, 1, 2, 2, 1, 0]);
    const file = rawPng(3, 2, 3, pixels, { palette });
    // Act
    const once = decodePng(flipPng(file, 'horizontal').png);
    const twice = flipImage(once, 'horizontal');
    // Assess
    expect(once.pixels).toEqual(Buffer.from([2, 1, 0, 0, 1, 2]));
    expect(once.chunks).toEqual([{ type: 'PLTE', data: palette }]);
    expect(twice.pixels.equals(pixels)).toBe(true);
  });

  it('the encoder filters rows (more than one filter type on mixed content) and its output decodes to its input', () => {
    // Prepare
    const pixels = pixelsOf(40, 30, 3);
    const image = decodePng(rawPng(40, 30, 2, pixels));
    // Act
    const encoded = encodePng(image);
    // Assess
    expect(decodePng(encoded).pixels.equals(pixels)).toBe(true);
    const idat = encoded.subarray(8 + 25 + 8, encoded.length - 12 - 4);
    const raw = inflateSync(idat);
    const filters = new Set(Array.from({ length: 30 }, (_, y) => raw[y * (40 * 3 + 1)]));
    expect(filters.size).toBeGreaterThan(1);
  });

  it('refuses what it cannot flip, saying why: interlaced, sub-byte pixels, a bad CRC, a truncated file, not a PNG', () => {
    // Prepare
    const good = rawPng(4, 4, 0, pixelsOf(4, 4, 1));
    const badCrc = Buffer.from(good);
    badCrc.writeUInt8(badCrc.readUInt8(good.length - 20) ^ 0xff, good.length - 20);
    const cases: [Buffer, RegExp][] = [
      [rawPng(4, 4, 0, pixelsOf(4, 4, 1), { interlace: 1 }), /interlaced/],
      [rawPng(8, 2, 3, Buffer.alloc(4), { bitDepth: 4, palette: Buffer.alloc(3) }), /4-bit palette PNGs are not supported/],
      [badCrc, /CRC/],
      [good.subarray(0, good.length - 20), /truncated/],
      [Buffer.from('GIF89a not a png'), /not a PNG/],
    ];
    for (const [bytes, reason] of cases) {
      // Act / Assess
      expect(() => decodePng(bytes)).toThrow(PngError);
      expect(() => decodePng(bytes)).toThrow(reason);
    }
    expect(isPng(good)).toBe(true);
  });
});
