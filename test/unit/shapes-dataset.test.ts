import { createHash } from 'node:crypto';
import { imageSize } from 'image-size';
import { describe, expect, it } from 'vitest';
import { decodePng } from '../../worker/png';
import { SHAPES, shapesDataset } from '../../worker/data/shapes';

/** The generated shapes data set: reproducible, balanced, real images whose classes differ in their pixels. */
const digest = (seed: number) => {
  const hash = createHash('sha256');
  for (const image of shapesDataset({ perClass: 5, size: 24, seed })) hash.update(image.path).update(image.png);
  return hash.digest('hex');
};

describe('the shapes data set', () => {
  it('is the same bytes for the same seed, and different for another', () => {
    expect(digest(7)).toBe(digest(7));
    expect(digest(8)).not.toBe(digest(7));
  });

  it('has perClass images of every class, in folder-per-class paths, as valid PNGs of the asked size', () => {
    const images = [...shapesDataset({ perClass: 6, size: 20, seed: 1 })];
    expect(images).toHaveLength(6 * SHAPES.length);
    for (const shape of SHAPES) expect(images.filter((i) => i.label === shape)).toHaveLength(6);
    for (const image of images) {
      expect(image.path.startsWith(`${image.label}/`)).toBe(true);
      expect(imageSize(image.png)).toMatchObject({ width: 20, height: 20, type: 'png' });
    }
  });

  it('draws the shape brighter than its background, and shapes cover different areas', () => {
    const bright = new Map<string, number[]>();
    for (const image of shapesDataset({ perClass: 40, size: 32, seed: 3 })) {
      const { pixels } = decodePng(image.png);
      const lit = [...pixels].filter((v) => v > 140).length / pixels.length;
      bright.set(image.label, [...(bright.get(image.label) ?? []), lit]);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    for (const shape of SHAPES) expect(mean(bright.get(shape)!)).toBeGreaterThan(0.05);
    // A circle of radius r covers about π r², a cross much less: the classes are told apart by their pixels.
    expect(mean(bright.get('circle')!)).toBeGreaterThan(mean(bright.get('cross')!) * 1.3);
  });
});
