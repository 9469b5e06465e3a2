import type { Caller } from './caller';
import { loadDataset } from './datasets';
import { queryPages } from './dynamo';
import { samplesOfDataset } from './entities/sample';
import type { Annotation, DatasetStats } from './schemas/sample';

/**
 * A dataset's figures, counted from its samples as they are now (one strongly consistent pass over the
 * dataset's partition, reading only the attributes counted): exact, O(samples), about 1 MB per call.
 */
export async function datasetStats(caller: Caller, ownerId: string, datasetId: string): Promise<DatasetStats> {
  await loadDataset(caller, ownerId, datasetId);
  const stats = { sample_count: 0, labeled_count: 0, unlabeled_count: 0, bytes: 0 };
  const perLabel = new Map<string, { samples: number; annotations: number }>();
  const review: Record<string, number> = { unreviewed: 0, accepted: 0, rejected: 0 };
  const base = samplesOfDataset(datasetId);
  const counted = queryPages({
    ...base,
    ProjectionExpression: '#size, #labels, #annotations, #review',
    ExpressionAttributeNames: { '#size': 'size', '#labels': 'labels', '#annotations': 'annotations', '#review': 'reviewState' },
  });
  for await (const page of counted) {
    for (const item of page) {
      const labels = (item.labels as string[] | undefined) ?? [];
      stats.sample_count++;
      stats.bytes += Number(item.size ?? 0);
      if (labels.length) stats.labeled_count++;
      else stats.unlabeled_count++;
      const state = String(item.reviewState ?? 'unreviewed');
      review[state] = (review[state] ?? 0) + 1;
      for (const label of labels) perLabel.set(label, { samples: (perLabel.get(label)?.samples ?? 0) + 1, annotations: perLabel.get(label)?.annotations ?? 0 });
      for (const annotation of (item.annotations as Annotation[] | undefined) ?? []) {
        const entry = perLabel.get(annotation.label);
        if (entry) entry.annotations++;
      }
    }
  }
  const labels = [...perLabel].map(([name, counts]) => ({ name, ...counts })).sort((a, b) => b.samples - a.samples || a.name.localeCompare(b.name));
  return { ...stats, labels, review_states: review };
}
