import { createDataset, deleteDataset, getDataset, listDatasets, replaceDataset, updateDataset } from '../core/datasets';
import { httpHandler } from './http';

/** Datasets (TAO): CRUD and lists. Each operation is parse → one use case → respond. */
export const handler = httpHandler('datasets', {
  listDatasets: ({ caller, params, query }) => listDatasets(caller, params.user_id, query),
  createDataset: ({ caller, params, body }) => createDataset(caller, params.user_id, body),
  getDataset: ({ caller, params }) => getDataset(caller, params.user_id, params.dataset_id),
  replaceDataset: ({ caller, params, body, ifMatch }) => replaceDataset(caller, params.user_id, params.dataset_id, body, ifMatch),
  updateDataset: ({ caller, params, body, ifMatch }) => updateDataset(caller, params.user_id, params.dataset_id, body, ifMatch),
  deleteDataset: ({ caller, params, ifMatch }) => deleteDataset(caller, params.user_id, params.dataset_id, ifMatch),
});
