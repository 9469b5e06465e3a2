import { queryPages } from './dynamo';
import { type AnnotationImportRecord, annotationImportsOfDataset } from './entities/annotation-import';

/** Failed files named in a dataset's import status; the rest are counted. */
const LISTED_FAILURES = 20;

export interface AnnotationImportStatus {
  files_applied: number;
  files_failed: number;
  samples: number;
  annotations: number;
  failures: { file: string; format: string; errors: string[]; finished_on: string }[];
}

/** The sum of a dataset's annotation-file reports (one read of its report rows: O(annotation files)). */
export async function annotationImportStatus(datasetId: string): Promise<AnnotationImportStatus> {
  const status: AnnotationImportStatus = { files_applied: 0, files_failed: 0, samples: 0, annotations: 0, failures: [] };
  for await (const page of queryPages(annotationImportsOfDataset(datasetId))) {
    for (const report of page as unknown as AnnotationImportRecord[]) {
      if (report.status === 'applied') {
        status.files_applied++;
        status.samples += report.samples;
        status.annotations += report.annotations;
      } else {
        status.files_failed++;
        if (status.failures.length < LISTED_FAILURES) status.failures.push({ file: report.file, format: report.format, errors: report.errors, finished_on: report.finishedOn });
      }
    }
  }
  return status;
}
