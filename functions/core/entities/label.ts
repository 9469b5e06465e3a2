import type { QueryInput } from '../dynamo';

/** A label of a dataset's class list. Samples name labels by `name`. */
export interface LabelRecord {
  datasetId: string;
  name: string;
  color?: string;
  createdOn: string;
}

const labelPartition = (datasetId: string) => `dataset#${datasetId}#label`;

export const labelKey = (datasetId: string, name: string) => ({ pk: labelPartition(datasetId), sk: name });

export function labelItem(label: LabelRecord) {
  return { ...labelKey(label.datasetId, label.name), entity: 'label', ...label };
}

/** byName: a dataset's labels in name order. */
export const labelsOfDataset = (datasetId: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': labelPartition(datasetId) },
});
