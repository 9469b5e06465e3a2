import { fileDownload, listFiles } from '../core/files';
import { abortUpload, completeUpload, getUpload, renewUpload, saveFormUpload, startUpload } from '../core/uploads';
import { readFormFile } from './form';
import { httpHandler } from './http';

/** Dataset files: upload sessions with presigned URLs (bytes never pass through here), listing, download. */
export const handler = httpHandler('files', {
  startUpload: ({ caller, params, body, form }) =>
    form ? saveFormUpload(caller, params.user_id, params.dataset_id, form) : startUpload(caller, params.user_id, params.dataset_id, body),
  getUpload: ({ caller, params }) => getUpload(caller, params.user_id, params.dataset_id, params.upload_id),
  renewUpload: ({ caller, params }) => renewUpload(caller, params.user_id, params.dataset_id, params.upload_id),
  completeUpload: ({ caller, params, body }) => completeUpload(caller, params.user_id, params.dataset_id, params.upload_id, body),
  abortUpload: ({ caller, params }) => abortUpload(caller, params.user_id, params.dataset_id, params.upload_id),
  listFiles: ({ caller, params, query }) => listFiles(caller, params.user_id, params.dataset_id, query),
  getFile: ({ caller, params }) => fileDownload(caller, params.user_id, params.dataset_id, params.path),
}, { readForm: readFormFile });
