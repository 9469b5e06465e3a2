import { describe, expect, it } from 'vitest';
import {
  classFileCandidates,
  fractionBox,
  imageCandidates,
  normalisedBox,
  readClassNames,
  readCoco,
  readKitti,
  readManifest,
  readYolo,
  type ResolveImage,
} from '../../functions/core/annotation-formats';

/**
 * The pure readers of annotation files: what each answers for a good file (boxes normalised to the image),
 * and the errors that make a file unusable (the importer applies a file with any error not at all).
 */

/** A resolver over a fixed set of stored images: the first candidate that is stored, as the importer's. */
const storedImages =
  (...paths: string[]): ResolveImage =>
  (candidates) =>
    candidates.find((c) => paths.includes(c));

/** A resolver that records what it was asked, and finds nothing. */
function recorder(): { resolve: ResolveImage; asked: string[][] } {
  const asked: string[][] = [];
  return { asked, resolve: (candidates) => (asked.push(candidates), undefined) };
}

const imagesOf = (read: { images: Map<string, unknown> }) => Object.fromEntries(read.images);

describe('boxes', () => {
  it('a pixel box is normalised to its image; a box overhanging by at most a pixel is clamped in; more is refused', () => {
    // Arrange / Act / Assess
    expect(normalisedBox(10, 5, 20, 10, 100, 50)).toEqual({ x: 0.1, y: 0.1, w: 0.2, h: 0.2 });
    expect(normalisedBox(-1, 0, 101, 50, 100, 50)).toEqual({ x: 0, y: 0, w: 1, h: 1 });
    expect(normalisedBox(90, 0, 12, 10, 100, 50)).toBeUndefined();
    expect(normalisedBox(0, 0, -5, 10, 100, 50)).toBeUndefined();
  });

  it('a fraction box must be finite, of non-negative size, and inside the image', () => {
    // Arrange / Act / Assess
    expect(fractionBox(0.25, 0.5, 0.5, 0.25)).toEqual({ x: 0.25, y: 0.5, w: 0.5, h: 0.25 });
    expect(fractionBox(0.6, 0, 0.5, 0.5)).toBeUndefined();
    expect(fractionBox(Number.NaN, 0, 0.5, 0.5)).toBeUndefined();
    expect(fractionBox(0, 0, 0.5, Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('COCO', () => {
  const coco = (overrides: Record<string, unknown> = {}) =>
    JSON.stringify({
      images: [
        { id: 1, file_name: 'a.png', width: 100, height: 50 },
        { id: 2, file_name: 'b.png', width: 200, height: 100 },
      ],
      categories: [
        { id: 1, name: 'cat' },
        { id: 2, name: 'dog' },
      ],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [10, 5, 20, 10] },
        { id: 2, image_id: 1, category_id: 2, bbox: [50, 25, 50, 25] },
        { id: 3, image_id: 2, category_id: 2 },
      ],
      ...overrides,
    });

  it('a valid file gives each image its boxes, normalised to the size the file gives, and its size', () => {
    // Arrange
    const resolve = storedImages('annotations/a.png', 'annotations/b.png');

    // Act
    const read = readCoco(coco(), 'annotations/instances.json', resolve);

    // Assess
    expect(read.errors).toEqual([]);
    expect(imagesOf(read)).toEqual({
      'annotations/a.png': {
        width: 100,
        height: 50,
        annotations: [
          { label: 'cat', box: { x: 0.1, y: 0.1, w: 0.2, h: 0.2 } },
          { label: 'dog', box: { x: 0.5, y: 0.5, w: 0.5, h: 0.5 } },
        ],
      },
      // An annotation without a bbox is a whole-image label.
      'annotations/b.png': { width: 200, height: 100, annotations: [{ label: 'dog' }] },
    });
  });

  it('ids may be strings or numbers, matched by their text; an image with no annotations is still named', () => {
    // Arrange
    const text = coco({
      images: [
        { id: 'i1', file_name: 'a.png', width: 100, height: 50 },
        { id: 7, file_name: 'b.png', width: 100, height: 50 },
      ],
      categories: [{ id: '3', name: 'cat' }],
      annotations: [{ id: 1, image_id: 'i1', category_id: 3, bbox: [0, 0, 100, 50] }],
    });

    // Act
    const read = readCoco(text, 'coco.json', storedImages('a.png', 'b.png'));

    // Assess
    expect(read.errors).toEqual([]);
    expect(imagesOf(read)).toEqual({
      'a.png': { width: 100, height: 50, annotations: [{ label: 'cat', box: { x: 0, y: 0, w: 1, h: 1 } }] },
      'b.png': { width: 100, height: 50, annotations: [] },
    });
  });

  it('text that is not JSON is one error, and no images', () => {
    // Act
    const read = readCoco('{"images": [', 'coco.json', storedImages('a.png'));

    // Assess
    expect(read.images.size).toBe(0);
    expect(read.errors).toEqual([expect.stringMatching(/^not valid JSON: /)]);
  });

  it('a file missing the COCO keys, or with ill-typed ones, names what is wrong', () => {
    // Act
    const noCategories = readCoco(JSON.stringify({ images: [], annotations: [] }), 'coco.json', storedImages());
    const badImage = readCoco(coco({ images: [{ id: 1, file_name: 'a.png', width: 0, height: 50 }] }), 'coco.json', storedImages('a.png'));
    const notAnObject = readCoco('[1, 2]', 'coco.json', storedImages());

    // Assess
    expect(noCategories.images.size).toBe(0);
    expect(noCategories.errors).toEqual([expect.stringMatching(/^not a COCO file: categories: /)]);
    expect(badImage.errors).toEqual([expect.stringMatching(/^not a COCO file: images\.0\.width: /)]);
    expect(notAnObject.errors).toEqual([expect.stringMatching(/^not a COCO file: \(top\): /)]);
  });

  it('an annotation whose category_id is unknown is an error naming it', () => {
    // Arrange
    const text = coco({ annotations: [{ id: 1, image_id: 1, category_id: 9, bbox: [0, 0, 1, 1] }] });

    // Act
    const read = readCoco(text, 'coco.json', storedImages('a.png', 'b.png'));

    // Assess
    expect(read.errors).toEqual(['annotations[0]: category_id 9 is not among the categories']);
  });

  it('an annotation whose image_id is not among the images found is an error; so is an image not stored', () => {
    // Arrange
    const unknownImage = coco({ annotations: [{ id: 1, image_id: 42, category_id: 1, bbox: [0, 0, 1, 1] }] });

    // Act
    const read = readCoco(unknownImage, 'coco.json', storedImages('a.png', 'b.png'));
    const missing = readCoco(coco(), 'coco.json', storedImages('a.png'));

    // Assess
    expect(read.errors).toEqual(['annotations[0]: image_id 42 is not among the images found']);
    expect(missing.errors).toEqual(['images[id=2]: no stored image b.png', 'annotations[2]: image_id 2 is not among the images found']);
  });

  it('a bbox outside its image is an error naming the box and the image size', () => {
    // Arrange: 90 + 20 > 100 by more than the pixel of slack.
    const text = coco({ annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [90, 0, 20, 10] }] });

    // Act
    const read = readCoco(text, 'coco.json', storedImages('a.png', 'b.png'));

    // Assess
    expect(read.errors).toEqual(['annotations[0]: bbox [90,0,20,10] lies outside its 100x50 image']);
  });

  it('file_name is looked for beside the JSON, in images/ beside it, in ../images/, beside its folder, then from the root', () => {
    // Arrange
    const { resolve, asked } = recorder();

    // Act
    readCoco(coco({ images: [{ id: 1, file_name: './x/a.png', width: 10, height: 10 }], annotations: [] }), 'set/annotations/train.json', resolve);

    // Assess
    expect(asked).toEqual([['set/annotations/x/a.png', 'set/annotations/images/x/a.png', 'set/images/x/a.png', 'set/x/a.png', 'x/a.png']]);
  });

  it('the first stored candidate wins, in that order', () => {
    // Arrange
    const text = coco({ images: [{ id: 1, file_name: 'a.png', width: 10, height: 10 }], annotations: [] });
    const json = 'set/annotations/train.json';
    const cases: [string[], string][] = [
      [['set/annotations/a.png', 'set/annotations/images/a.png', 'set/images/a.png', 'a.png'], 'set/annotations/a.png'],
      [['set/annotations/images/a.png', 'set/images/a.png', 'a.png'], 'set/annotations/images/a.png'],
      [['set/images/a.png', 'a.png'], 'set/images/a.png'],
      [['a.png'], 'a.png'],
    ];

    // Act / Assess
    for (const [stored, expected] of cases) {
      const read = readCoco(text, json, storedImages(...stored));
      expect(read.errors).toEqual([]);
      expect([...read.images.keys()]).toEqual([expected]);
    }
  });
});

describe('YOLO class names', () => {
  it('data.yaml names as an inline list, a block list (indented or not) and an index map', () => {
    // Arrange
    const inline = "path: .\nnames: ['cat', \"dog\", bird]\nnc: 3\n";
    const block = 'names:\n  - cat\n  - dog\n  - bird\nnc: 3\n';
    const unindented = 'names:\n- cat\n- dog\n- bird\nnc: 3\n'; // as PyYAML's yaml.dump writes a list
    const map = 'train: images/train\nnames:\n  0: cat\n  1: "dog"\n  2: bird\nval: images/val\n';

    // Act / Assess
    for (const text of [inline, block, unindented, map]) expect(readClassNames('data.yaml', text)).toEqual(['cat', 'dog', 'bird']);
  });

  it('an index map is read by its indices, whatever their order', () => {
    // Act
    const names = readClassNames('dataset.yaml', 'names:\n  1: dog\n  0: cat\n  2: bird\n');

    // Assess
    expect(names).toEqual(['cat', 'dog', 'bird']);
  });

  it('classes.txt and obj.names: a name a line, blank lines and CRLF ignored', () => {
    // Act / Assess
    expect(readClassNames('classes.txt', 'cat\r\ndog\r\n\r\nbird\r\n')).toEqual(['cat', 'dog', 'bird']);
    expect(readClassNames('x/obj.names', ' cat \ndog\n')).toEqual(['cat', 'dog']);
  });

  it('no names at all is undefined', () => {
    // Act / Assess
    expect(readClassNames('classes.txt', '\n \n')).toBeUndefined();
    expect(readClassNames('data.yaml', 'path: .\nnc: 3\n')).toBeUndefined();
  });

  it('the class-name files of a label file are looked for from its folder up to the root', () => {
    // Act
    const candidates = classFileCandidates('labels/train/1.txt');

    // Assess
    expect(candidates).toEqual([
      ...['classes.txt', 'obj.names', 'data.yaml', 'dataset.yaml'].map((f) => `labels/train/${f}`),
      ...['classes.txt', 'obj.names', 'data.yaml', 'dataset.yaml'].map((f) => `labels/${f}`),
      'classes.txt',
      'obj.names',
      'data.yaml',
      'dataset.yaml',
    ]);
  });
});

describe('YOLO label files', () => {
  const CLASSES = ['cat', 'dog', 'bird'];

  it('each line is a box, from its normalised centre and size, on the image images/ holds for labels/', () => {
    // Arrange
    const text = '0 0.5 0.5 0.2 0.4\n2 0.25 0.75 0.5 0.5\n';

    // Act
    const read = readYolo(text, 'labels/train/1.txt', CLASSES, storedImages('images/train/1.jpg'));

    // Assess
    expect(read.errors).toEqual([]);
    expect(imagesOf(read)).toEqual({
      'images/train/1.jpg': {
        annotations: [
          { label: 'cat', box: { x: expect.closeTo(0.4, 9), y: expect.closeTo(0.3, 9), w: 0.2, h: 0.4 } },
          { label: 'bird', box: { x: 0, y: 0.5, w: 0.5, h: 0.5 } },
        ],
      },
    });
  });

  it('an empty file is its image with no annotations', () => {
    // Act
    const read = readYolo('\n', 'labels/1.txt', CLASSES, storedImages('images/1.png'));

    // Assess
    expect(read.errors).toEqual([]);
    expect(imagesOf(read)).toEqual({ 'images/1.png': { annotations: [] } });
  });

  it('a line that is not five numbers, a class out of range and a box outside are errors, each with its line', () => {
    // Arrange
    const text = ['0 0.5 0.5 0.2 0.2', '1 0.5 0.5 0.2', 'cat 0.5 0.5 0.2 0.2', '3 0.5 0.5 0.2 0.2', '-1 0.5 0.5 0.2 0.2', '1.5 0.5 0.5 0.1 0.1', '1 0.95 0.5 0.2 0.2'].join('\n');

    // Act
    const read = readYolo(text, 'labels/1.txt', CLASSES, storedImages('images/1.png'));

    // Assess
    expect(read.errors).toEqual([
      'line 2: expected "class cx cy w h", got "1 0.5 0.5 0.2"',
      'line 3: expected "class cx cy w h", got "cat 0.5 0.5 0.2 0.2"',
      'line 4: class 3 is not among the 3 class names',
      'line 5: class -1 is not among the 3 class names',
      'line 6: class 1.5 is not among the 3 class names',
      'line 7: the box lies outside the image',
    ]);
  });

  it('a label file with no stored image is one error', () => {
    // Act
    const read = readYolo('0 0.5 0.5 0.2 0.2', 'labels/9.txt', CLASSES, storedImages('images/1.png'));

    // Assess
    expect(read.images.size).toBe(0);
    expect(read.errors).toEqual(['no stored image for labels/9.txt (looked in images/ and beside it)']);
  });
});

describe('imageCandidates', () => {
  it('labels/ maps to images/ (the last labels/ folder only), then beside the label file, every image extension', () => {
    // Act
    const candidates = imageCandidates('labels/set/labels/train/1.txt');

    // Assess
    expect(candidates.slice(0, 3)).toEqual(['labels/set/images/train/1.jpg', 'labels/set/images/train/1.jpeg', 'labels/set/images/train/1.png']);
    expect(candidates).toContain('labels/set/labels/train/1.png');
    expect(candidates.indexOf('labels/set/images/train/1.PNG')).toBeLessThan(candidates.indexOf('labels/set/labels/train/1.jpg'));
    expect(candidates.every((c) => c.startsWith('labels/set/'))).toBe(true);
  });

  it("KITTI's label_2/ maps to image_2/ and label/ to image/", () => {
    // Act / Assess
    expect(imageCandidates('training/label_2/000001.txt')).toContain('training/image_2/000001.png');
    expect(imageCandidates('training/label_2/000001.txt')[0]).toBe('training/image_2/000001.jpg');
    expect(imageCandidates('label/7.txt')[0]).toBe('image/7.jpg');
  });

  it('a file in no labels folder looks beside itself only', () => {
    // Act
    const candidates = imageCandidates('a/b/1.txt');

    // Assess
    expect(candidates).toContain('a/b/1.png');
    expect(candidates.every((c) => c.startsWith('a/b/1.'))).toBe(true);
  });
});

describe('KITTI', () => {
  const size = { width: 200, height: 100 };
  const line = (type: string, left: number, top: number, right: number, bottom: number, extra = '') =>
    `${type} 0.00 0 -1.57 ${left} ${top} ${right} ${bottom} 1.50 1.60 3.90 1.0 1.5 20.0 -1.57${extra}`;

  it('15- and 16-field lines give pixel corners normalised with the image size; DontCare is skipped', () => {
    // Arrange
    const text = [line('Car', 20, 10, 60, 30), line('DontCare', 0, 0, 10, 10), line('Pedestrian', 100, 50, 200, 100, ' 0.97'), ''].join('\n');
    const sizes: string[] = [];

    // Act
    const read = readKitti(text, 'training/label_2/000001.txt', storedImages('training/image_2/000001.png'), (image) => (sizes.push(image), size));

    // Assess
    expect(read.errors).toEqual([]);
    expect(sizes).toEqual(['training/image_2/000001.png']);
    expect(imagesOf(read)).toEqual({
      'training/image_2/000001.png': {
        annotations: [
          { label: 'Car', box: { x: 0.1, y: 0.1, w: 0.2, h: 0.2 } },
          { label: 'Pedestrian', box: { x: 0.5, y: 0.5, w: 0.5, h: 0.5 } },
        ],
      },
    });
  });

  it('a wrong field count, a box outside the image and a bad label are errors, each with its line', () => {
    // Arrange
    const text = [line('Car', 20, 10, 60, 30), 'Car 0 0 0 1 2 3 4', line('Car', 150, 10, 260, 30), line('Car', 60, 10, 20, 30)].join('\n');

    // Act
    const read = readKitti(text, 'label_2/1.txt', storedImages('image_2/1.png'), () => size);

    // Assess
    expect(read.errors).toEqual([
      'line 2: expected 15 or 16 fields, got 8',
      'line 3: the box 150,10,260,30 lies outside the 200x100 image',
      'line 4: the box 60,10,20,30 lies outside the 200x100 image',
    ]);
  });

  it('no stored image, or no readable size, is one error', () => {
    // Act
    const noImage = readKitti(line('Car', 0, 0, 1, 1), 'label_2/1.txt', storedImages(), () => size);
    const noSize = readKitti(line('Car', 0, 0, 1, 1), 'label_2/1.txt', storedImages('image_2/1.png'), () => undefined);

    // Assess
    expect(noImage.errors).toEqual(['no stored image for label_2/1.txt (looked in image_2/ and beside it)']);
    expect(noSize.errors).toEqual(['cannot read the size of image_2/1.png']);
    expect(noImage.images.size + noSize.images.size).toBe(0);
  });
});

describe('manifest', () => {
  it('source or path names the image (beside the manifest, then from the root); label is shorthand; annotations and tags apply', () => {
    // Arrange
    const text = [
      JSON.stringify({ source: 'a.png', annotations: [{ label: 'cat', box: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } }], tags: ['day'] }),
      JSON.stringify({ path: 'other/b.png', label: 'dog' }),
      '',
      JSON.stringify({ source: './c.png', label: 'cat', annotations: [{ label: 'bird' }] }),
      JSON.stringify({ source: 'd.png' }),
    ].join('\n');

    // Act
    const read = readManifest(text, 'sets/m.jsonl', storedImages('sets/a.png', 'other/b.png', 'sets/c.png', 'd.png', 'sets/d.png'));

    // Assess
    expect(read.errors).toEqual([]);
    expect(imagesOf(read)).toEqual({
      'sets/a.png': { annotations: [{ label: 'cat', box: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } }], tags: ['day'] },
      'other/b.png': { annotations: [{ label: 'dog' }] },
      'sets/c.png': { annotations: [{ label: 'bird' }, { label: 'cat' }] },
      'sets/d.png': { annotations: [] },
    });
  });

  it('a line that is not JSON, has an unknown field, names no image, or a missing one, is an error with its line', () => {
    // Arrange
    const text = [
      JSON.stringify({ source: 'a.png', label: 'cat' }),
      '{"source": "a.png", ',
      JSON.stringify({ source: 'a.png', labels: ['cat'] }),
      JSON.stringify({ label: 'cat' }),
      JSON.stringify({ source: 'gone.png', label: 'cat' }),
      JSON.stringify({ source: 'a.png', annotations: [{ label: 'cat', box: { x: 0.9, y: 0, w: 0.2, h: 0.1 } }] }),
    ].join('\n');

    // Act
    const read = readManifest(text, 'm.jsonl', storedImages('a.png'));

    // Assess
    expect(read.errors).toEqual([
      'line 2: not valid JSON',
      expect.stringMatching(/^line 3: .*labels/),
      expect.stringMatching(/^line 4: .*"source"/),
      'line 5: no stored image gone.png',
      expect.stringMatching(/^line 6: annotations\.0\.box: .*inside the image/),
    ]);
  });

  it('tags follow the rules of tags anywhere else: trimmed, no commas, at most 64 characters', () => {
    // Arrange
    const text = [
      JSON.stringify({ source: 'a.png', tags: [' day '] }),
      JSON.stringify({ source: 'b.png', tags: ['day,night'] }),
      JSON.stringify({ source: 'b.png', tags: ['x'.repeat(65)] }),
    ].join('\n');

    // Act
    const read = readManifest(text, 'm.jsonl', storedImages('a.png', 'b.png'));

    // Assess
    expect(read.images.get('a.png')).toEqual({ annotations: [], tags: ['day'] });
    expect(read.errors).toEqual([expect.stringMatching(/^line 2: tags\.0: .*commas/), expect.stringMatching(/^line 3: tags\.0: /)]);
  });
});

describe('the error cap', () => {
  it('more than 20 errors in a file gives the first 20 and "… and N more"', () => {
    // Arrange: 25 bad lines.
    const text = Array.from({ length: 25 }, () => '7 0.5 0.5 0.1 0.1').join('\n');

    // Act
    const read = readYolo(text, 'labels/1.txt', ['cat'], storedImages('images/1.png'));

    // Assess
    expect(read.errors).toHaveLength(21);
    expect(read.errors.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 1}: class 7 is not among the 1 class names`));
    expect(read.errors[20]).toBe('… and 5 more');
  });

  it('exactly 20 errors are all listed, with no tail; the cap holds for every reader', () => {
    // Arrange
    const twenty = Array.from({ length: 20 }, () => 'nope').join('\n');
    const thirty = Array.from({ length: 30 }, () => 'nope').join('\n');

    // Act
    const manifest20 = readManifest(twenty, 'm.jsonl', storedImages());
    const manifest30 = readManifest(thirty, 'm.jsonl', storedImages());
    const kitti30 = readKitti(thirty, 'label_2/1.txt', storedImages('image_2/1.png'), () => ({ width: 10, height: 10 }));

    // Assess
    expect(manifest20.errors).toHaveLength(20);
    expect(manifest20.errors.at(-1)).toBe('line 20: not valid JSON');
    expect(manifest30.errors).toHaveLength(21);
    expect(manifest30.errors.at(-1)).toBe('… and 10 more');
    expect(kitti30.errors.at(-1)).toBe('… and 10 more');
  });

  it('a COCO file failing its shape in more than 20 places is capped the same way', () => {
    // Arrange: 25 images without a width.
    const text = JSON.stringify({ images: Array.from({ length: 25 }, (_, i) => ({ id: i, file_name: `${i}.png`, height: 10 })), annotations: [], categories: [] });

    // Act
    const read = readCoco(text, 'coco.json', storedImages());

    // Assess
    expect(read.errors).toHaveLength(21);
    expect(read.errors[0]).toMatch(/^not a COCO file: images\.0\.width: /);
    expect(read.errors[20]).toBe('… and 5 more');
  });
});
