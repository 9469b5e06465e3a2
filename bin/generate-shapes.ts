import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { SHAPES, shapesDataset } from '../worker/data/shapes';

/**
 * `npm run generate-shapes -- --out shapes.tar.gz [--per-class 250] [--size 32] [--seed 7] [--flat]`:
 * the reproducible shapes data set as a folder-per-class archive, ready to upload into an
 * image_classification dataset (format `default`), where every folder becomes a label. `--flat` puts
 * every image at the top as `shape_<n>.png`: unlabelled images, for inference and auto-labelling.
 */
const { values } = parseArgs({
  options: { out: { type: 'string', default: 'shapes.tar.gz' }, 'per-class': { type: 'string', default: '250' }, size: { type: 'string', default: '32' }, seed: { type: 'string', default: '7' }, flat: { type: 'boolean', default: false } },
});
const perClass = Number(values['per-class']);
const size = Number(values.size);
const seed = Number(values.seed);
if (![perClass, size, seed].every(Number.isInteger) || perClass < 1 || size < 8 || size > 512) {
  console.error('usage: --out <file.tar.gz> --per-class <n ≥ 1> --size <8..512> --seed <integer> [--flat]');
  process.exit(2);
}
const pack = tar.pack();
const written = pipeline(pack, createGzip(), createWriteStream(values.out));
let count = 0;
for (const image of shapesDataset({ perClass, size, seed })) {
  const name = values.flat ? `shape_${String(count).padStart(5, '0')}.png` : image.path;
  pack.entry({ name, size: image.png.length }, image.png);
  count++;
}
pack.finalize();
await written;
console.log(`${values.out}: ${count} images, ${values.flat ? 'unlabelled' : `${SHAPES.length} classes (${SHAPES.join(', ')})`}, ${size}x${size}, seed ${seed}`);
