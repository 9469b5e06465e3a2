import { createLabel, deleteLabel, deleteLabels, listLabels, renameLabels, updateLabel } from '../core/labels';
import { addSamples, annotateSamples, deleteSample, deleteSamples, getSample, listSamples, updateSample } from '../core/samples';
import { datasetStats } from '../core/stats';
import { createVersion, deleteVersion, getVersion, listVersions } from '../core/versions';
import { httpHandler } from './http';

/** A dataset's samples, labels, versions and stats: the data plane above its files. */
export const handler = httpHandler('samples', {
  listSamples: ({ caller, params, query }) => listSamples(caller, params.user_id, params.dataset_id, query),
  addSamples: ({ caller, params, body }) => addSamples(caller, params.user_id, params.dataset_id, body),
  deleteSamples: ({ caller, params, body }) => deleteSamples(caller, params.user_id, params.dataset_id, body),
  annotateSamples: ({ caller, params, body }) => annotateSamples(caller, params.user_id, params.dataset_id, body),
  getSample: ({ caller, params }) => getSample(caller, params.user_id, params.dataset_id, params.sample_id),
  updateSample: ({ caller, params, body, ifMatch }) => updateSample(caller, params.user_id, params.dataset_id, params.sample_id, body, ifMatch),
  deleteSample: ({ caller, params, ifMatch }) => deleteSample(caller, params.user_id, params.dataset_id, params.sample_id, ifMatch),
  listLabels: ({ caller, params, query }) => listLabels(caller, params.user_id, params.dataset_id, query),
  createLabel: ({ caller, params, body }) => createLabel(caller, params.user_id, params.dataset_id, body),
  renameLabels: ({ caller, params, body }) => renameLabels(caller, params.user_id, params.dataset_id, body),
  deleteLabels: ({ caller, params, body }) => deleteLabels(caller, params.user_id, params.dataset_id, body),
  updateLabel: ({ caller, params, body }) => updateLabel(caller, params.user_id, params.dataset_id, params.name, body),
  deleteLabel: ({ caller, params, query }) => deleteLabel(caller, params.user_id, params.dataset_id, params.name, query.delete_samples),
  getStats: ({ caller, params }) => datasetStats(caller, params.user_id, params.dataset_id),
  createVersion: ({ caller, params, body }) => createVersion(caller, params.user_id, params.dataset_id, body),
  listVersions: ({ caller, params, query }) => listVersions(caller, params.user_id, params.dataset_id, query),
  getVersion: ({ caller, params }) => getVersion(caller, params.user_id, params.dataset_id, params.version_id),
  deleteVersion: ({ caller, params }) => deleteVersion(caller, params.user_id, params.dataset_id, params.version_id),
});
