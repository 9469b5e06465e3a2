import type { ActionResult, JobContext } from '../context';
import { type Manifest, readInputManifest } from '../manifest';
import type { CategoryValues } from '../status';

/**
 * analyze: what a version holds, from its manifest alone: how samples and boxes spread over the labels,
 * image sizes, box sizes, how much is unlabeled. No file is read.
 */
interface Spread {
  min: number;
  max: number;
  mean: number;
  median: number;
}

export interface Analysis {
  manifest: string;
  samples: number;
  labeled: number;
  unlabeled: number;
  malformed_lines: number;
  labels: { label: string; samples: number; boxes: number; whole_image: number }[];
  image_sizes: {
    known: number;
    unknown: number;
    width?: Omit<Spread, 'median'>;
    height?: Omit<Spread, 'median'>;
    common: { size: string; samples: number }[];
  };
  boxes: {
    count: number;
    per_image: { mean: number; max: number };
    w?: Spread;
    h?: Spread;
    area?: Spread;
    pixel_area_classes: { small: number; medium: number; large: number; unknown: number };
  };
  review_states: Record<string, number>;
  tags: Record<string, number>;
}

const TOP_SIZES = 20;
const round = (v: number) => Math.round(v * 1e6) / 1e6;

function spread(values: number[]): Spread | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: round(sorted[0]!), max: round(sorted.at(-1)!), mean: round(values.reduce((s, v) => s + v, 0) / values.length), median: round(median) };
}

function count(into: Record<string, number>, key: string) {
  into[key] = (into[key] ?? 0) + 1;
}

/** The analysis of a manifest (pure). */
export function analyse(manifest: Pick<Manifest, 'key' | 'samples' | 'malformed'>): Analysis {
  const labels = new Map<string, { samples: number; boxes: number; whole_image: number }>();
  const sizes: Record<string, number> = {};
  const widths: number[] = [];
  const heights: number[] = [];
  const boxW: number[] = [];
  const boxH: number[] = [];
  const areas: number[] = [];
  const classes = { small: 0, medium: 0, large: 0, unknown: 0 };
  const reviewStates: Record<string, number> = {};
  const tags: Record<string, number> = {};
  let labeled = 0;
  let maxPerImage = 0;
  for (const s of manifest.samples) {
    if (s.annotations.length) labeled++;
    count(reviewStates, s.review_state);
    for (const t of s.tags) count(tags, t);
    const known = Boolean(s.width && s.height);
    if (known) {
      widths.push(s.width!);
      heights.push(s.height!);
      count(sizes, `${s.width}x${s.height}`);
    }
    let boxes = 0;
    for (const label of new Set(s.annotations.map((a) => a.label))) {
      const entry = labels.get(label) ?? { samples: 0, boxes: 0, whole_image: 0 };
      entry.samples++;
      labels.set(label, entry);
    }
    for (const a of s.annotations) {
      const entry = labels.get(a.label)!;
      if (!a.box) {
        entry.whole_image++;
        continue;
      }
      entry.boxes++;
      boxes++;
      boxW.push(a.box.w);
      boxH.push(a.box.h);
      areas.push(a.box.w * a.box.h);
      if (!known) classes.unknown++;
      else {
        const pixels = a.box.w * s.width! * a.box.h * s.height!;
        if (pixels < 32 * 32) classes.small++;
        else if (pixels < 96 * 96) classes.medium++;
        else classes.large++;
      }
    }
    maxPerImage = Math.max(maxPerImage, boxes);
  }
  const totalBoxes = boxW.length;
  const dims = (values: number[]) => {
    const s = spread(values);
    return s ? { min: s.min, max: s.max, mean: s.mean } : undefined;
  };
  const width = dims(widths);
  const height = dims(heights);
  const w = spread(boxW);
  const h = spread(boxH);
  const area = spread(areas);
  return {
    manifest: manifest.key,
    samples: manifest.samples.length,
    labeled,
    unlabeled: manifest.samples.length - labeled,
    malformed_lines: manifest.malformed.length,
    labels: [...labels].map(([label, v]) => ({ label, ...v })).sort((a, b) => b.samples - a.samples || (a.label < b.label ? -1 : 1)),
    image_sizes: {
      known: widths.length,
      unknown: manifest.samples.length - widths.length,
      ...(width ? { width } : {}),
      ...(height ? { height } : {}),
      common: Object.entries(sizes)
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
        .slice(0, TOP_SIZES)
        .map(([size, samples]) => ({ size, samples })),
    },
    boxes: {
      count: totalBoxes,
      per_image: { mean: manifest.samples.length ? round(totalBoxes / manifest.samples.length) : 0, max: maxPerImage },
      ...(w ? { w } : {}),
      ...(h ? { h } : {}),
      ...(area ? { area } : {}),
      pixel_area_classes: classes,
    },
    review_states: reviewStates,
    tags,
  };
}

export function categoricalOf(a: Analysis): CategoryValues[] {
  return [
    { metric: 'samples_per_label', category_wise_values: a.labels.map((l) => ({ category: l.label, value: l.samples })) },
    { metric: 'boxes_per_label', category_wise_values: a.labels.map((l) => ({ category: l.label, value: l.boxes })) },
    { metric: 'image_sizes', category_wise_values: a.image_sizes.common.map((s) => ({ category: s.size, value: s.samples })) },
    { metric: 'review_states', category_wise_values: Object.entries(a.review_states).map(([category, value]) => ({ category, value })) },
  ];
}

export async function analyze(ctx: JobContext): Promise<ActionResult> {
  const manifest = await readInputManifest(ctx);
  const analysis = analyse(manifest);
  await ctx.storage.putJson(ctx.output('artifacts/analysis.json'), analysis, { signal: ctx.signal });
  const message = `${analysis.samples} samples (${analysis.labeled} labeled, ${analysis.unlabeled} unlabeled), ${analysis.labels.length} labels, ${analysis.boxes.count} boxes`;
  ctx.log(message);
  for (const l of analysis.labels) ctx.log(`label ${l.label}: ${l.samples} samples, ${l.boxes} boxes`);
  return {
    status: 'Done',
    exitCode: 0,
    message,
    stats: [
      { metric: 'samples', value: analysis.samples },
      { metric: 'labeled', value: analysis.labeled },
      { metric: 'unlabeled', value: analysis.unlabeled },
      { metric: 'labels', value: analysis.labels.length },
      { metric: 'boxes', value: analysis.boxes.count },
      { metric: 'images_without_dimensions', value: analysis.image_sizes.unknown },
    ],
    categorical: categoricalOf(analysis),
  };
}
