import type { QueryInput } from '../dynamo';

/**
 * What became of one annotation file of a dataset: applied (with how many samples and annotations) or
 * failed (with its first errors, and nothing of it applied). One row per file, rewritten whole when the
 * file arrives again, so figures never double.
 */
export interface AnnotationImportRecord {
  datasetId: string;
  file: string;
  format: string;
  status: 'applied' | 'failed';
  samples: number;
  annotations: number;
  errors: string[];
  finishedOn: string;
}

const importPartition = (datasetId: string) => `dataset#${datasetId}#import`;

export const annotationImportKey = (datasetId: string, file: string) => ({ pk: importPartition(datasetId), sk: file });

export function annotationImportItem(report: AnnotationImportRecord) {
  return { ...annotationImportKey(report.datasetId, report.file), entity: 'annotation-import', ...report };
}

/** all: a dataset's annotation-file reports, in file order. */
export const annotationImportsOfDataset = (datasetId: string): QueryInput => ({
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': importPartition(datasetId) },
});
