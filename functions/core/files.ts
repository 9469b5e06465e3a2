import type { Caller } from './caller';
import { loadDataset } from './datasets';
import { NotFound } from './errors';
import { openPosition, type Page, sealPosition } from './pagination';
import { headObject, listObjects, PRESIGN_SECONDS, presignGet } from './s3';
import { datasetFilesPrefix } from './uploads';

export interface StoredFile {
  path: string;
  size: number;
  last_modified: string;
}

/**
 * A dataset's stored files, in key order, paged by S3's continuation token inside a signed cursor.
 * The exact total walks the whole listing (S3 keeps no count): O(files), 1,000 keys a call.
 */
export async function listFiles(caller: Caller, ownerId: string, datasetId: string, request: { size: number; skip: number; cursor?: string }): Promise<Page<StoredFile>> {
  const prefix = datasetFilesPrefix(await loadDataset(caller, ownerId, datasetId));
  const binding = { callerId: caller.userId, query: { ns: ownerId, kind: 'file', dataset: datasetId } };
  const startAfter = request.cursor ? String((await openPosition(request.cursor, binding)).after) : undefined;
  let token: string | undefined;
  const items: StoredFile[] = [];
  let toSkip = request.skip;
  let lastKeyInPage: string | undefined;
  let hasMore = false;
  // Read past the page by one key to know honestly whether there is more.
  while (!hasMore) {
    const listed = await listObjects(prefix, 1000, token ? { continuationToken: token } : { startAfter });
    for (const object of listed.objects) {
      if (toSkip > 0) toSkip--;
      else if (items.length < request.size) {
        items.push({ path: object.key.slice(prefix.length), size: object.size, last_modified: object.lastModified });
        lastKeyInPage = object.key;
      } else {
        hasMore = true;
        break;
      }
    }
    if (!listed.nextToken) break;
    token = listed.nextToken;
  }
  const [total, nextCursor] = await Promise.all([
    countFiles(prefix),
    // The cursor carries the page's last key; the next page lists from just after it (StartAfter).
    hasMore && lastKeyInPage ? sealPosition({ after: lastKeyInPage }, binding) : undefined,
  ]);
  return { items, total, nextCursor };
}

async function countFiles(prefix: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const listed = await listObjects(prefix, 1000, { continuationToken: token });
    total += listed.objects.length;
    token = listed.nextToken;
  } while (token);
  return total;
}

/** One stored file and a presigned URL to download it (valid 15 minutes). */
export async function fileDownload(caller: Caller, ownerId: string, datasetId: string, path: string) {
  const prefix = datasetFilesPrefix(await loadDataset(caller, ownerId, datasetId));
  const stored = await headObject(prefix + path);
  if (!stored) throw new NotFound('file');
  const name = path.split('/').pop() ?? path;
  return {
    path,
    size: stored.size,
    last_modified: stored.lastModified,
    url: await presignGet(prefix + path, name),
    urls_expire_on: new Date(Date.now() + PRESIGN_SECONDS * 1000).toISOString(),
  };
}
