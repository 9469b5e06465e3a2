import type { QueryInput } from '../dynamo';

/** An upload session: what the client declared, and how far each file got. */
export interface UploadFileRecord {
  name: string;
  size: number;
  contentType?: string;
  sha256?: string;
  key: string;
  mode: 'single' | 'multipart';
  status: 'pending' | 'uploaded';
  uploadId?: string;
  partSize?: number;
  partCount?: number;
}

export interface UploadRecord {
  id: string;
  datasetId: string;
  ownerId: string;
  status: 'open' | 'completed' | 'aborted';
  files: UploadFileRecord[];
  revision: number;
  createdOn: string;
}

/** Sessions are kept a week (S3 aborts unfinished multipart uploads after a day anyway). */
const RETENTION_S = 7 * 86_400;

export const uploadKey = (id: string) => ({ pk: `upload#${id}`, sk: 'upload' });

export function uploadItem(upload: UploadRecord) {
  return {
    ...uploadKey(upload.id),
    entity: 'upload',
    gsi1pk: `dataset#${upload.datasetId}#upload`,
    gsi1sk: `${upload.createdOn}#${upload.id}`,
    ttl: Math.floor(Date.parse(upload.createdOn) / 1000) + RETENTION_S,
    ...upload,
  };
}

/** byDataset: a dataset's upload sessions. */
export const uploadsByDataset = (datasetId: string): QueryInput => ({
  IndexName: 'gsi1',
  KeyConditionExpression: 'gsi1pk = :pk',
  ExpressionAttributeValues: { ':pk': `dataset#${datasetId}#upload` },
});
