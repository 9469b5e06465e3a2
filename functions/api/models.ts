import { createModel, deleteModel, getModel, listModels, replaceModel, updateModel } from '../core/models';
import { httpHandler } from './http';

/** Models (TAO): CRUD and lists. Each operation is parse → one use case → respond. */
export const handler = httpHandler('models', {
  listModels: ({ caller, params, query }) => listModels(caller, params.user_id, query),
  createModel: ({ caller, params, body }) => createModel(caller, params.user_id, body),
  getModel: ({ caller, params }) => getModel(caller, params.user_id, params.model_id),
  replaceModel: ({ caller, params, body, ifMatch }) => replaceModel(caller, params.user_id, params.model_id, body, ifMatch),
  updateModel: ({ caller, params, body, ifMatch }) => updateModel(caller, params.user_id, params.model_id, body, ifMatch),
  deleteModel: ({ caller, params, ifMatch }) => deleteModel(caller, params.user_id, params.model_id, ifMatch),
});
