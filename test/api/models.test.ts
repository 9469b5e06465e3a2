import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type Api,
  ERROR_KEYS,
  ERROR_TYPES,
  type Json,
  type Reply,
  type TestUser,
  admin,
  client,
  createDatasets,
  datasetsPath,
  errorShapeOf,
  mapLimit,
  newUser,
  tokenFor,
} from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const modelsPath = (userId: string) => `/api/v1/user/${userId}/model`;
const modelPath = (userId: string, id: string) => `${modelsPath(userId)}/${id}`;
const datasetPath = (userId: string, id: string) => `${datasetsPath(userId)}/${id}`;

function expectFlatError(reply: Reply, status: number) {
  expect(reply.status, reply.text).toBe(status);
  expect(errorShapeOf(reply.body)).toEqual({ keys: ERROR_KEYS, types: ERROR_TYPES });
  expect(reply.body.error_code).toBe(status);
}

async function createModel(user: TestUser, body: Json): Promise<Json> {
  const created = await user.api.post(modelsPath(user.id), body);
  expect(created.status, created.text).toBe(201);
  return created.body;
}

/** The exact number of models a user has, as the list reports it. */
async function countOf(user: TestUser): Promise<number> {
  const list = await user.api.get(`${modelsPath(user.id)}?size=1`);
  expect(list.status, list.text).toBe(200);
  return Number(list.headers.get('x-pagination-total'));
}

async function datasetIds(user: TestUser, n: number): Promise<string[]> {
  return (await createDatasets(user, n)).map((d) => d.id as string);
}

/** Every detail path of a refusal, joined with dots (e.g. "body.train_datasets.1"). */
const pathsOf = (reply: Reply): string[] => (reply.body.details as { path: unknown[] }[]).map((d) => d.path.join('.'));

describe('model CRUD', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models' });
  });

  it('POST with only network_arch and no Content-Type creates a model with defaults', async () => {
    // Act
    const created = await owner.api.post(modelsPath(owner.id), { network_arch: 'detectnet_v2' }, { noContentType: true });

    // Assess
    expect(created.status, created.text).toBe(201);
    expect(created.body.id).toMatch(UUID);
    expect(created.body).toEqual({
      id: created.body.id,
      user_id: owner.id,
      name: `model-${created.body.id.slice(0, 8)}`,
      description: '',
      version: '1.0.0',
      logo: '',
      network_arch: 'detectnet_v2',
      encryption_key_set: false,
      ptm: [],
      checkpoint_choose_method: 'best_model',
      checkpoint_epoch_number: {},
      train_datasets: [],
      train_dataset_versions: {},
      eval_dataset: null,
      eval_dataset_version: null,
      inference_dataset: null,
      inference_dataset_version: null,
      calibration_dataset: null,
      calibration_dataset_version: null,
      read_only: false,
      tags: [],
      artifacts: {},
      revision: 1,
      created_on: expect.stringMatching(ISO),
      last_modified: created.body.created_on,
    });
    expect(created.headers.get('etag')).toBe('"1"');
  });

  it.each(['classification_tf2', 'classification_pyt', 'dino', 'efficientdet_tf2', 'faster_rcnn', 'mask_rcnn', 'ssd', 'yolo_v4', 'yolo_v4_tiny', 'segformer', 'unet', 'ocdnet', 'ocrnet', 'pointpillars', 'rtdetr'])(
    'network_arch %s, as TAO spells it, is accepted',
    async (arch) => {
      expect((await owner.api.post(modelsPath(owner.id), { network_arch: arch })).status).toBe(201);
    },
  );

  it('GET answers the stored model with its ETag', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'dino', name: 'Detector', description: 'd', tags: ['a'], ptm: ['nvidia/tao/pretrained_dino:resnet50'], version: '2.0' });

    // Act
    const got = await owner.api.get(modelPath(owner.id, made.id));

    // Assess
    expect(got.status).toBe(200);
    expect(got.body).toEqual(made);
    expect(got.headers.get('etag')).toBe(`"${made.revision}"`);
  });

  it('PATCH changes only the named fields', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'yolo_v4', name: 'Roads', description: 'v1', tags: ['car'], ptm: ['a'] });

    // Act
    const patched = await owner.api.patch(modelPath(owner.id, made.id), { description: 'v2', checkpoint_choose_method: 'latest_model' });

    // Assess
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toEqual({
      ...made,
      description: 'v2',
      checkpoint_choose_method: 'latest_model',
      revision: made.revision + 1,
      last_modified: expect.stringMatching(ISO),
    });
    expect(patched.headers.get('etag')).toBe(`"${made.revision + 1}"`);
    expect((await owner.api.get(modelPath(owner.id, made.id))).body).toEqual(patched.body);
  });

  it('PUT replaces the editable fields and resets the omitted optional ones to their defaults', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'ssd', name: 'Full', description: 'd', tags: ['a', 'b'], ptm: ['p'], version: '3.1', logo: 'https://example.test/x.png' });

    // Act
    const replaced = await owner.api.put(modelPath(owner.id, made.id), { network_arch: 'segformer' });

    // Assess
    expect(replaced.status, replaced.text).toBe(200);
    expect(replaced.body).toMatchObject({
      id: made.id,
      network_arch: 'segformer',
      name: `model-${made.id.slice(0, 8)}`,
      description: '',
      version: '1.0.0',
      logo: '',
      tags: [],
      ptm: [],
      revision: made.revision + 1,
      created_on: made.created_on,
    });
    expect((await owner.api.get(modelPath(owner.id, made.id))).body).toEqual(replaced.body);
  });

  it('DELETE answers the deleted model; afterwards it is not found', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'unet', name: 'Doomed' });

    // Act
    const deleted = await owner.api.delete(modelPath(owner.id, made.id));

    // Assess
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual(made);
    expectFlatError(await owner.api.get(modelPath(owner.id, made.id)), 404);
    expectFlatError(await owner.api.delete(modelPath(owner.id, made.id)), 404);
    expectFlatError(await owner.api.patch(modelPath(owner.id, made.id), { name: 'back' }), 404);
    const list = await owner.api.get(`${modelsPath(owner.id)}?size=1000`);
    expect(list.body.map((m: Json) => m.id)).not.toContain(made.id);
  });

  it('a model id that was never issued is a 404; one that is not a UUID is a 400', async () => {
    expectFlatError(await owner.api.get(modelPath(owner.id, randomUUID())), 404);
    expectFlatError(await owner.api.get(modelPath(owner.id, 'not-a-uuid')), 400);
  });
});

const TWICE = randomUUID();

describe('bad input', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-bad' });
  });

  it.each([
    ['a missing network_arch', { name: 'x' }, 'network_arch'],
    ['an unknown network_arch', { network_arch: 'resnet_magic' }, 'network_arch'],
    ['an unknown field', { network_arch: 'dino', colour: 'blue' }, ''],
    ['a non-UUID train dataset', { network_arch: 'dino', train_datasets: ['abc'] }, 'train_datasets'],
    ['a train dataset named twice', { network_arch: 'dino', train_datasets: [TWICE, TWICE] }, 'train_datasets'],
    ['101 train datasets', { network_arch: 'dino', train_datasets: Array.from({ length: 101 }, () => randomUUID()) }, 'train_datasets'],
    ['ptm as a string', { network_arch: 'dino', ptm: 'ngc://x' }, 'ptm'],
    ['read_only as a string', { network_arch: 'dino', read_only: 'yes' }, 'read_only'],
    ['an empty encryption_key', { network_arch: 'dino', encryption_key: '' }, 'encryption_key'],
  ])('%s is a 400 whose details point at the field, and nothing is stored', async (_, body, field) => {
    // Act
    const reply = await owner.api.post(modelsPath(owner.id), body);

    // Assess
    expectFlatError(reply, 400);
    expect(pathsOf(reply).some((p) => p.startsWith(`body${field ? `.${field}` : ''}`))).toBe(true);
    expect(await countOf(owner)).toBe(0);
  });

  it('list filters that are not valid are 400s', async () => {
    for (const query of ['arch=resnet_magic', 'read_only=maybe', 'size=1001', 'sort=size-ascending', 'arch=dino&network_arch=ssd']) {
      expectFlatError(await owner.api.get(`${modelsPath(owner.id)}?${query}`), 400);
    }
  });
});

describe('encryption_key', () => {
  const KEY = `tlt_encode-${randomUUID()}`;
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-key' });
  });

  it('is accepted and never answered: create, read, list, change, replay, audit', async () => {
    // Act
    const idempotencyKey = randomUUID();
    const body = { network_arch: 'detectnet_v2', encryption_key: KEY, name: 'Keyed' };
    const created = await owner.api.post(modelsPath(owner.id), body, { headers: { 'idempotency-key': idempotencyKey } });
    const replayed = await owner.api.post(modelsPath(owner.id), body, { headers: { 'idempotency-key': idempotencyKey } });
    const got = await owner.api.get(modelPath(owner.id, created.body.id));
    const listed = await owner.api.get(modelsPath(owner.id));
    const patched = await owner.api.patch(modelPath(owner.id, created.body.id), { description: 'still keyed' });
    const put = await owner.api.put(modelPath(owner.id, created.body.id), { network_arch: 'detectnet_v2', name: 'Keyed' });
    const audit = await owner.api.get(`/api/v1/user/${owner.id}/audit`);

    // Assess
    expect(created.status, created.text).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    for (const reply of [created, replayed, got, listed, patched, put, audit]) {
      expect(reply.status, reply.text).toBeLessThan(300);
      expect(reply.text).not.toContain(KEY);
      expect(reply.text).not.toContain('"encryption_key"');
    }
    expect(created.body.encryption_key_set).toBe(true);
    // PUT keeps the key it cannot have been sent back.
    expect(put.body.encryption_key_set).toBe(true);
  });

  it('null removes it; a new one sets it again', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'ssd', encryption_key: KEY });

    // Act
    const removed = await owner.api.patch(modelPath(owner.id, made.id), { encryption_key: null });
    const set = await owner.api.put(modelPath(owner.id, made.id), { network_arch: 'ssd', encryption_key: 'another' });

    // Assess
    expect(removed.body.encryption_key_set).toBe(false);
    expect(set.body.encryption_key_set).toBe(true);
    expect(set.text).not.toContain('another');
  });
});

describe('If-Match and Idempotency-Key', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-guards' });
  });

  it('a stale ETag is a 412 and changes nothing; the current one (or *) succeeds', async () => {
    // Prepare
    const made = await createModel(owner, { network_arch: 'dino', name: 'Guarded' });
    const first = await owner.api.patch(modelPath(owner.id, made.id), { name: 'Guarded v2' }, { headers: { 'if-match': '"1"' } });
    expect(first.status).toBe(200);

    // Act
    const stale = [
      await owner.api.patch(modelPath(owner.id, made.id), { name: 'lost' }, { headers: { 'if-match': '"1"' } }),
      await owner.api.put(modelPath(owner.id, made.id), { network_arch: 'ssd' }, { headers: { 'if-match': '"1"' } }),
      await owner.api.delete(modelPath(owner.id, made.id), { headers: { 'if-match': '"1"' } }),
    ];
    const unchanged = await owner.api.get(modelPath(owner.id, made.id));
    const current = await owner.api.patch(modelPath(owner.id, made.id), { name: 'Guarded v3' }, { headers: { 'if-match': first.headers.get('etag')! } });
    const star = await owner.api.delete(modelPath(owner.id, made.id), { headers: { 'if-match': '*' } });

    // Assess
    for (const reply of stale) {
      expectFlatError(reply, 412);
      expect(reply.body.code).toBe('precondition_failed');
    }
    expect(unchanged.body).toEqual(first.body);
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ name: 'Guarded v3', revision: 3 });
    expect(star.status).toBe(200);
  });

  it('the same key and body answer the first response and create one model; another body is a 422', async () => {
    // Prepare
    const user = await newUser({ label: 'models-idem' });
    const key = randomUUID();
    const body = { network_arch: 'rtdetr', name: 'Once' };

    // Act
    const replies = await Promise.all(Array.from({ length: 5 }, () => user.api.post(modelsPath(user.id), body, { headers: { 'idempotency-key': key } })));
    const other = await user.api.post(modelsPath(user.id), { ...body, name: 'Twice' }, { headers: { 'idempotency-key': key } });

    // Assess
    const created = replies.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expectFlatError(other, 422);
    expect(await countOf(user)).toBe(1);
  });
});

describe('datasets of a model', () => {
  let owner: TestUser;
  let stranger: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-ds' });
    stranger = await newUser({ label: 'models-ds-other' });
  });

  it('attached at creation, in every role, and answered as given', async () => {
    // Prepare
    const [a, b, c, d, e] = (await datasetIds(owner, 5)) as [string, string, string, string, string];

    // Act
    const model = await createModel(owner, { network_arch: 'detectnet_v2', train_datasets: [a, b], eval_dataset: c, inference_dataset: d, calibration_dataset: e });

    // Assess
    expect(model).toMatchObject({ train_datasets: [a, b], eval_dataset: c, inference_dataset: d, calibration_dataset: e, train_dataset_versions: {} });
    expect((await owner.api.get(modelPath(owner.id, model.id))).body).toEqual(model);
  });

  it('attached later with PATCH, as TAO clients do, and detached the same way', async () => {
    // Prepare
    const model = await createModel(owner, { network_arch: 'yolo_v4' });
    const [train, evalSet] = (await datasetIds(owner, 2)) as [string, string];

    // Act
    const attached = await owner.api.patch(modelPath(owner.id, model.id), { train_datasets: [train], eval_dataset: evalSet });
    const detached = await owner.api.patch(modelPath(owner.id, model.id), { train_datasets: [], eval_dataset: null });

    // Assess
    expect(attached.status, attached.text).toBe(200);
    expect(attached.body).toMatchObject({ train_datasets: [train], eval_dataset: evalSet, revision: 2 });
    expect(detached.body).toMatchObject({ train_datasets: [], eval_dataset: null, revision: 3 });
  });

  it('an unknown dataset is a 422 naming each field, and nothing is stored', async () => {
    // Prepare
    const [mine] = (await datasetIds(owner, 1)) as [string];
    const before = await countOf(owner);
    const missing = randomUUID();

    // Act
    const reply = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', train_datasets: [mine, missing], eval_dataset: missing });

    // Assess
    expectFlatError(reply, 422);
    expect(reply.body.code).toBe('unprocessable');
    expect(pathsOf(reply)).toEqual(['body.train_datasets.1', 'body.eval_dataset']);
    expect(reply.body.error_desc).toContain(missing);
    expect(await countOf(owner)).toBe(before);
    // The dataset that was fine is not held by a model that does not exist.
    expect((await owner.api.delete(datasetPath(owner.id, mine))).status).toBe(200);
  });

  it("another user's dataset is refused the same way, at creation and by PATCH, and stays theirs", async () => {
    // Prepare
    const [theirs] = (await datasetIds(stranger, 1)) as [string];
    const model = await createModel(owner, { network_arch: 'dino' });
    const before = await countOf(owner);

    // Act
    const create = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', inference_dataset: theirs });
    const patch = await owner.api.patch(modelPath(owner.id, model.id), { train_datasets: [theirs] });

    // Assess
    expectFlatError(create, 422);
    expect(pathsOf(create)).toEqual(['body.inference_dataset']);
    expectFlatError(patch, 422);
    expect(pathsOf(patch)).toEqual(['body.train_datasets.0']);
    expect(await countOf(owner)).toBe(before);
    expect((await owner.api.get(modelPath(owner.id, model.id))).body).toEqual(model);
    expect((await stranger.api.delete(datasetPath(stranger.id, theirs))).status).toBe(200);
  });

  it('versions: a version of the dataset pins it; a foreign or missing version, or one without its dataset, is a 422', async () => {
    // Prepare
    const [a, b] = (await datasetIds(owner, 2)) as [string, string];
    const versionOf = async (datasetId: string) => {
      const made = await owner.api.post(`${datasetPath(owner.id, datasetId)}/version`, {});
      expect(made.status, made.text).toBe(201);
      return made.body.id as string;
    };
    const [va, vb] = [await versionOf(a), await versionOf(b)];

    // Act
    const pinned = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', train_datasets: [a], train_dataset_versions: { [a]: va }, eval_dataset: b, eval_dataset_version: vb });
    const wrongVersion = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', eval_dataset: a, eval_dataset_version: vb });
    const notTrain = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', train_datasets: [a], train_dataset_versions: { [b]: vb } });
    const noDataset = await owner.api.post(modelsPath(owner.id), { network_arch: 'dino', calibration_dataset_version: va });
    const otherEval = await owner.api.patch(modelPath(owner.id, pinned.body.id), { eval_dataset: a });
    const sameEval = await owner.api.patch(modelPath(owner.id, pinned.body.id), { eval_dataset: a, eval_dataset_version: va });
    const trainKept = await owner.api.patch(modelPath(owner.id, pinned.body.id), { train_datasets: [a, b] });
    const trainDropped = await owner.api.patch(modelPath(owner.id, pinned.body.id), { train_datasets: [b] });

    // Assess
    expect(pinned.status, pinned.text).toBe(201);
    expect(pinned.body).toMatchObject({ train_dataset_versions: { [a]: va }, eval_dataset: b, eval_dataset_version: vb });
    expectFlatError(wrongVersion, 422);
    expect(pathsOf(wrongVersion)).toEqual(['body.eval_dataset_version']);
    expectFlatError(notTrain, 422);
    expect(pathsOf(notTrain)).toEqual([`body.train_dataset_versions.${b}`]);
    expectFlatError(noDataset, 422);
    expect(pathsOf(noDataset)).toEqual(['body.calibration_dataset_version']);
    // Another dataset drops the pin; naming one again sets it; train pins follow the train datasets.
    expect(otherEval.body).toMatchObject({ eval_dataset: a, eval_dataset_version: null });
    expect(sameEval.body).toMatchObject({ eval_dataset: a, eval_dataset_version: va });
    expect(trainKept.body.train_dataset_versions).toEqual({ [a]: va });
    expect(trainDropped.body.train_dataset_versions).toEqual({});
  });
});

describe('a dataset a model uses', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-in-use' });
  });

  it('cannot be deleted: 409 naming the model, and the dataset stays', async () => {
    // Prepare
    const [used] = await createDatasets(owner, 1);
    const model = await createModel(owner, { network_arch: 'dino', name: 'Consumer', train_datasets: [used.id] });

    // Act
    const refused = await owner.api.delete(datasetPath(owner.id, used.id));

    // Assess
    expectFlatError(refused, 409);
    expect(refused.body.code).toBe('conflict');
    expect(refused.body.error_desc).toContain('"Consumer"');
    expect(refused.body.error_desc).toContain(model.id);
    expect(refused.body.details).toEqual([{ path: ['model', model.id], message: 'model "Consumer" uses this dataset', code: 'dataset_in_use' }]);
    expect((await owner.api.get(datasetPath(owner.id, used.id))).body).toEqual(used);
    // The refused DELETE did not leave the dataset unusable.
    const again = await owner.api.patch(modelPath(owner.id, model.id), { eval_dataset: used.id });
    expect(again.status, again.text).toBe(200);
  });

  it('names every model that uses it, whatever the role', async () => {
    // Prepare
    const [used] = (await datasetIds(owner, 1)) as [string];
    const one = await createModel(owner, { network_arch: 'dino', name: 'One', eval_dataset: used });
    const two = await createModel(owner, { network_arch: 'ssd', name: 'Two', calibration_dataset: used });
    await createModel(owner, { network_arch: 'ssd', name: 'Bystander' });

    // Act
    const refused = await owner.api.delete(datasetPath(owner.id, used));

    // Assess
    expectFlatError(refused, 409);
    expect(refused.body.details.map((d: Json) => d.path[1]).sort()).toEqual([one.id, two.id].sort());
    expect(refused.body.error_desc).not.toContain('Bystander');
  });

  it('can be deleted once PATCH takes it out of the model', async () => {
    // Prepare
    const [used, kept] = (await datasetIds(owner, 2)) as [string, string];
    const model = await createModel(owner, { network_arch: 'dino', train_datasets: [used, kept] });
    expectFlatError(await owner.api.delete(datasetPath(owner.id, used)), 409);

    // Act
    const patched = await owner.api.patch(modelPath(owner.id, model.id), { train_datasets: [kept] });
    const deleted = await owner.api.delete(datasetPath(owner.id, used));

    // Assess
    expect(patched.status).toBe(200);
    expect(deleted.status, deleted.text).toBe(200);
    expectFlatError(await owner.api.delete(datasetPath(owner.id, kept)), 409);
  });

  it('can be deleted once the model is deleted', async () => {
    // Prepare
    const [used] = (await datasetIds(owner, 1)) as [string];
    const model = await createModel(owner, { network_arch: 'dino', inference_dataset: used });
    expectFlatError(await owner.api.delete(datasetPath(owner.id, used)), 409);

    // Act
    const modelDeleted = await owner.api.delete(modelPath(owner.id, model.id));
    const datasetDeleted = await owner.api.delete(datasetPath(owner.id, used));

    // Assess
    expect(modelDeleted.status).toBe(200);
    expect(datasetDeleted.status, datasetDeleted.text).toBe(200);
  });

  it('racing deletes and attaches never leave a model naming a deleted dataset', async () => {
    // Prepare: one model per dataset, so that nothing but its own PATCH changes what it names (with one
    // shared model, a later PATCH could take a dataset out before its DELETE ran, and that DELETE rightly succeeds).
    const datasets = await datasetIds(owner, 12);
    const models = await mapLimit(datasets, 4, () => createModel(owner, { network_arch: 'dino' }));

    // Act: for each dataset, attach it to its model while deleting it, the DELETE a little later each time.
    const outcomes = await mapLimit(datasets, 4, async (id, i) => {
      const [attach, remove] = await Promise.all([
        owner.api.patch(modelPath(owner.id, models[i]!.id as string), { eval_dataset: id }),
        new Promise((resolve) => setTimeout(resolve, (i % 6) * 10)).then(() => owner.api.delete(datasetPath(owner.id, id))),
      ]);
      return { id, model: models[i]!.id as string, attach: attach.status, remove: remove.status };
    });

    // Assess
    for (const { id, model, attach, remove } of outcomes) {
      expect([200, 409, 422]).toContain(attach);
      expect([200, 409]).toContain(remove);
      const exists = (await owner.api.get(datasetPath(owner.id, id))).status === 200;
      expect(exists).toBe(remove !== 200);
      if (attach === 200) expect(remove, `dataset ${id} was deleted while attached`).not.toBe(200);
      const named = (await owner.api.get(modelPath(owner.id, model))).body.eval_dataset;
      if (named) expect((await owner.api.get(datasetPath(owner.id, named as string))).status).toBe(200);
    }
  });

  it('racing deletes and creations never leave a model naming a deleted dataset', async () => {
    // Prepare
    const datasets = await datasetIds(owner, 12);

    // Act: create a model naming each dataset while deleting it, the DELETE a little later each time.
    const outcomes = await mapLimit(datasets, 4, async (id, i) => {
      const [create, remove] = await Promise.all([
        owner.api.post(modelsPath(owner.id), { network_arch: 'dino', eval_dataset: id }),
        new Promise((resolve) => setTimeout(resolve, (i % 6) * 10)).then(() => owner.api.delete(datasetPath(owner.id, id))),
      ]);
      return { id, create, remove: remove.status };
    });

    // Assess
    for (const { id, create, remove } of outcomes) {
      expect([201, 409, 422]).toContain(create.status);
      expect([200, 409]).toContain(remove);
      if (create.status === 201) {
        expect(remove, `dataset ${id} was deleted while a model named it`).not.toBe(200);
        expect((await owner.api.get(modelPath(owner.id, create.body.id as string))).body.eval_dataset).toBe(id);
      }
    }
  });

  it('a model being created with the dataset (its write still in flight) keeps the DELETE off: 409', async () => {
    // Prepare: what a POST leaves between marking the reference and writing the model: a live pending mark
    // on a reference to a model that does not exist yet.
    const [id] = (await datasetIds(owner, 1)) as [string];
    const modelId = randomUUID();
    const table = new DynamoDBClient({ endpoint: inject('tableEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const mark = `${Date.now() + 30_000}:0123456789abcdef`;
    await table.send(
      new PutItemCommand({
        TableName: 'trainyard',
        Item: {
          pk: { S: `dataset#${id}#model` },
          sk: { S: modelId },
          entity: { S: 'modelref' },
          datasetId: { S: id },
          modelId: { S: modelId },
          revision: { N: '1' },
          pending: { SS: [mark] },
        },
      }),
    );
    table.destroy();

    // Act
    const refused = await owner.api.delete(datasetPath(owner.id, id));

    // Assess: it waited for the write, then gave up rather than delete under it.
    expectFlatError(refused, 409);
    expect(refused.body.details).toEqual([{ path: ['model', modelId], message: expect.stringContaining('is being changed to use this dataset'), code: 'dataset_in_use' }]);
    expect((await owner.api.get(datasetPath(owner.id, id))).status).toBe(200);
  });
});

describe('read_only', () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await newUser({ label: 'models-ro' });
  });

  it('a read-only model refuses PUT, PATCH and DELETE with 403 and stays as it was', async () => {
    // Prepare
    const model = await createModel(owner, { network_arch: 'classification_tf2', name: 'Frozen', read_only: true });

    // Act
    const replies = [
      await owner.api.patch(modelPath(owner.id, model.id), { name: 'Thawed' }),
      await owner.api.patch(modelPath(owner.id, model.id), { read_only: false, name: 'Thawed' }),
      await owner.api.put(modelPath(owner.id, model.id), { network_arch: 'classification_tf2', read_only: false }),
      await owner.api.delete(modelPath(owner.id, model.id)),
    ];

    // Assess
    for (const reply of replies) {
      expectFlatError(reply, 403);
      expect(reply.body.code).toBe('forbidden');
    }
    expect((await owner.api.get(modelPath(owner.id, model.id))).body).toEqual(model);
  });

  it('PATCH {"read_only": false} unlocks it; then it changes and deletes as any model', async () => {
    // Prepare
    const model = await createModel(owner, { network_arch: 'classification_pyt', read_only: true });

    // Act
    const unlocked = await owner.api.patch(modelPath(owner.id, model.id), { read_only: false });
    const renamed = await owner.api.patch(modelPath(owner.id, model.id), { name: 'Thawed' });
    const deleted = await owner.api.delete(modelPath(owner.id, model.id));

    // Assess
    expect(unlocked.body).toMatchObject({ read_only: false, revision: 2 });
    expect(renamed.body.name).toBe('Thawed');
    expect(deleted.status).toBe(200);
  });
});

describe("another user's model", () => {
  it('answers 404 to every call and stays unchanged; an admin may read it', async () => {
    // Prepare
    const alice = await newUser({ label: 'models-alice' });
    const bob = await newUser({ label: 'models-bob' });
    const hers = await createModel(alice, { network_arch: 'dino', name: 'Hers' });
    const [bobsDataset] = (await datasetIds(bob, 1)) as [string];

    // Act
    const replies = [
      await bob.api.get(modelPath(alice.id, hers.id)),
      await bob.api.get(modelsPath(alice.id)),
      await bob.api.post(modelsPath(alice.id), { network_arch: 'dino' }),
      await bob.api.patch(modelPath(alice.id, hers.id), { name: 'Mine now' }),
      await bob.api.put(modelPath(alice.id, hers.id), { network_arch: 'ssd' }),
      await bob.api.delete(modelPath(alice.id, hers.id)),
      // Her model's id under his own namespace is no better.
      await bob.api.get(modelPath(bob.id, hers.id)),
      await bob.api.patch(modelPath(bob.id, hers.id), { train_datasets: [bobsDataset] }),
    ];
    const byAdmin = await admin().get(modelPath(alice.id, hers.id));

    // Assess
    for (const reply of replies) expectFlatError(reply, 404);
    expect((await alice.api.get(modelPath(alice.id, hers.id))).body).toEqual(hers);
    expect(byAdmin.body).toEqual(hers);
    expect(await countOf(alice)).toBe(1);
  });

  it('a read-only token reads models but may not change them', async () => {
    // Prepare
    const owner = await newUser({ label: 'models-readonly-token' });
    const model = await createModel(owner, { network_arch: 'dino' });
    const reader: Api = client(await tokenFor(owner.id, ['read']));

    // Act
    const read = await reader.get(modelPath(owner.id, model.id));
    const writes = [
      await reader.post(modelsPath(owner.id), { network_arch: 'dino' }),
      await reader.patch(modelPath(owner.id, model.id), { name: 'x' }),
      await reader.delete(modelPath(owner.id, model.id)),
    ];

    // Assess
    expect(read.status).toBe(200);
    for (const reply of writes) expectFlatError(reply, 403);
  });
});

// ---------------------------------------------------------------------------------------------------
// Lists: one user with models whose names, architectures, read_only and tags follow known patterns.

const TOTAL = 45;
const ARCHS = ['dino', 'yolo_v4', 'segformer'];
const WORDS = ['Zebra', 'apple', 'Mango'];

function inputFor(i: number): Json {
  const tags: string[] = [];
  if (i % 2 === 0) tags.push('even');
  if (i % 5 === 0) tags.push('five');
  return { network_arch: ARCHS[i % ARCHS.length], name: `${WORDS[i % WORDS.length]} ${String(i).padStart(2, '0')}`, read_only: i % 4 === 0, tags };
}

describe('lists', () => {
  let lister: TestUser;
  let all: Json[];
  const base = () => modelsPath(lister.id);

  beforeAll(async () => {
    lister = await newUser({ label: 'models-lister' });
    all = await mapLimit(Array.from({ length: TOTAL }, (_, i) => inputFor(i)), 8, (body) => createModel(lister, body));
  });

  /** Follow X-Next-Cursor from the first page; answers the items and the page sizes. */
  async function walk(query: string, size: number): Promise<{ items: Json[]; sizes: number[]; totals: number[] }> {
    const out = { items: [] as Json[], sizes: [] as number[], totals: [] as number[] };
    let cursor: string | null = null;
    do {
      const page: Reply = await lister.api.get(`${base()}?${query}&size=${size}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status, page.text).toBe(200);
      out.items.push(...page.body);
      out.sizes.push(page.body.length);
      out.totals.push(Number(page.headers.get('x-pagination-total')));
      cursor = page.headers.get('x-next-cursor');
    } while (cursor);
    return out;
  }

  it('is a bare array, newest first, with the exact total', async () => {
    // Act
    const page = await lister.api.get(base());

    // Assess
    expect(page.body).toHaveLength(TOTAL);
    expect(page.headers.get('x-pagination-total')).toBe(String(TOTAL));
    expect(page.headers.has('x-next-cursor')).toBe(false);
    const dates = page.body.map((m: Json) => m.created_on);
    expect(dates).toEqual([...dates].sort().reverse());
  });

  it('a cursor walk visits every model once, in full pages, in name order', async () => {
    // Act
    const { items, sizes, totals } = await walk('sort=name-ascending', 10);

    // Assess
    expect(sizes).toEqual([10, 10, 10, 10, 5]);
    expect(totals.every((t) => t === TOTAL)).toBe(true);
    expect(new Set(items.map((m) => m.id))).toEqual(new Set(all.map((m) => m.id)));
    const names = items.map((m) => m.name.toLowerCase());
    expect(names).toEqual([...names].sort());
  });

  it.each([
    ['arch (TAO)', 'arch=yolo_v4', (i: number) => i % 3 === 1],
    ['network_arch', 'network_arch=segformer', (i: number) => i % 3 === 2],
    ['read_only=true', 'read_only=true', (i: number) => i % 4 === 0],
    ['read_only=false', 'read_only=false', (i: number) => i % 4 !== 0],
    ['name', 'name=MANGO', (i: number) => i % 3 === 2],
    ['tags (all of them)', 'tag=even,five', (i: number) => i % 10 === 0],
    ['arch, read_only and tag', 'arch=dino&read_only=true&tag=even', (i: number) => i % 3 === 0 && i % 4 === 0],
  ])('filter by %s: exact total, full pages, exactly the matching models', async (_, query, matches) => {
    // Prepare
    const expected = new Set(all.filter((_, i) => matches(i)).map((m) => m.id));

    // Act
    const { items, sizes, totals } = await walk(query, 4);

    // Assess
    expect(totals.every((t) => t === expected.size)).toBe(true);
    expect(sizes.slice(0, -1).every((n) => n === 4)).toBe(true);
    expect(new Set(items.map((m) => m.id))).toEqual(expected);
    expect(items).toHaveLength(expected.size);
  });

  it("a cursor works only with the query and caller it was issued to", async () => {
    // Prepare
    const first = await lister.api.get(`${base()}?size=5&arch=dino`);
    const cursor = encodeURIComponent(first.headers.get('x-next-cursor')!);

    // Act
    const same = await lister.api.get(`${base()}?size=5&arch=dino&cursor=${cursor}`);
    const otherFilter = await lister.api.get(`${base()}?size=5&arch=ssd&cursor=${cursor}`);
    const otherCaller = await admin().get(`${base()}?size=5&arch=dino&cursor=${cursor}`);

    // Assess
    expect(same.status).toBe(200);
    expect(same.body.every((m: Json) => m.network_arch === 'dino')).toBe(true);
    expectFlatError(otherFilter, 400);
    expectFlatError(otherCaller, 400);
  });

  it('the total stays exact through deletes', async () => {
    // Prepare
    const user = await newUser({ label: 'models-count' });
    const made = await mapLimit([0, 1, 2], 3, () => createModel(user, { network_arch: 'dino' }));

    // Act
    await user.api.delete(modelPath(user.id, made[1].id));

    // Assess
    expect(await countOf(user)).toBe(2);
  });
});
