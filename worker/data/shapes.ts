import { encodePng } from '../png';

/**
 * A reproducible small image data set: shapes (circle, square, triangle, cross) of random size, position
 * and grey level on a noisy background, rendered from a seed. The same seed and options always give the
 * same bytes, so tests, benches and the README walkthrough train on data anyone can regenerate.
 */
export const SHAPES = ['circle', 'square', 'triangle', 'cross'] as const;
export type Shape = (typeof SHAPES)[number];

export interface ShapesOptions {
  /** Images per class. */
  perClass: number;
  /** Side of each (square, greyscale) image in pixels. */
  size?: number;
  seed?: number;
}

export interface RenderedImage {
  /** `<class>/<class>_<index>.png`: the folder-per-class layout the data plane labels by folder. */
  path: string;
  label: Shape;
  png: Buffer;
}

/** mulberry32: a small, fast, seedable PRNG (32-bit state). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Whether pixel (x, y) lies in the shape centred at (cx, cy) with half-size r. */
function inside(shape: Shape, x: number, y: number, cx: number, cy: number, r: number): boolean {
  const dx = x - cx;
  const dy = y - cy;
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
    case 'triangle':
      // Apex up: inside when below the two slanted edges and above the base.
      return dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= ((dy + r) / 1.8) * 1;
    case 'cross':
      return (Math.abs(dx) <= r * 0.3 && Math.abs(dy) <= r) || (Math.abs(dy) <= r * 0.3 && Math.abs(dx) <= r);
  }
}

export function renderShape(shape: Shape, size: number, next: () => number): Buffer {
  const pixels = Buffer.alloc(size * size);
  const background = 30 + Math.floor(next() * 60);
  const foreground = 170 + Math.floor(next() * 80);
  const r = size * (0.22 + next() * 0.14);
  const cx = r + next() * (size - 2 * r);
  const cy = r + next() * (size - 2 * r);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const noise = Math.floor((next() - 0.5) * 40);
      const base = inside(shape, x + 0.5, y + 0.5, cx, cy, r) ? foreground : background;
      pixels[y * size + x] = Math.max(0, Math.min(255, base + noise));
    }
  }
  return encodePng({ width: size, height: size, bitDepth: 8, colorType: 0, bytesPerPixel: 1, pixels, chunks: [] });
}

/** Every image of the data set, class by class, in a fixed order. */
export function* shapesDataset(options: ShapesOptions): Generator<RenderedImage> {
  const size = options.size ?? 32;
  const next = random(options.seed ?? 7);
  for (let index = 0; index < options.perClass; index++) {
    for (const label of SHAPES) {
      yield { path: `${label}/${label}_${String(index).padStart(5, '0')}.png`, label, png: renderShape(label, size, next) };
    }
  }
}
