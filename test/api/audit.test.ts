import { describe, expect, it } from 'vitest';
import { admin, newUser } from './helpers';

/** Every change lands in the audit log of the namespace it touched: who, what, where, when, which request. */
describe('audit log', () => {
  it('records each successful change, newest first, and nothing else', async () => {
    const ada = await newUser({ label: 'audit' });
    const created = await ada.api.post(`/api/v1/user/${ada.id}/dataset`, { type: 'object_detection', format: 'coco' });
    const path = `/api/v1/user/${ada.id}/dataset/${created.body.id}`;
    await ada.api.patch(path, { name: 'renamed' });
    await ada.api.get(path); // reads are not changes
    const refused = await ada.api.patch(path, { name: 'x' }, { headers: { 'if-match': '"999"' } });
    expect(refused.status).toBe(412); // refusals change nothing and are not recorded
    await ada.api.delete(path);

    const log = await ada.api.get(`/api/v1/user/${ada.id}/audit`);
    expect(log.status).toBe(200);
    const mine = log.body.filter((e: { path: string }) => e.path.includes('/dataset'));
    expect(mine.map((e: { action: string }) => e.action)).toEqual(['deleteDataset', 'updateDataset', 'createDataset']);
    for (const entry of mine) {
      expect(entry.actor_id).toBe(ada.id);
      // A create names the collection it posted to and the id it made; later changes name the dataset.
      expect(entry.action === 'createDataset' ? entry.resource_id : entry.path).toContain(created.body.id);
      expect(Date.parse(entry.at)).not.toBeNaN();
      expect(entry.request_id).toEqual(expect.any(String));
    }
    expect(Number(log.headers.get('x-pagination-total'))).toBe(log.body.length);
  });

  it('keeps no secrets: a token creation is recorded without the token', async () => {
    const bob = await newUser({ label: 'audit-token' });
    const token = await bob.api.post(`/api/v1/user/${bob.id}/token`, { name: 'ci' });
    const log = await bob.api.get(`/api/v1/user/${bob.id}/audit`);
    const entry = log.body.find((e: { action: string }) => e.action === 'createToken');
    expect(entry.resource_id).toBe(token.body.id);
    expect(JSON.stringify(log.body)).not.toContain(token.body.token);
  });

  it('is visible to the user and to admins, and to nobody else', async () => {
    const owner = await newUser({ label: 'audit-owner' });
    const other = await newUser({ label: 'audit-other' });
    await owner.api.post(`/api/v1/user/${owner.id}/dataset`, { type: 'object_detection', format: 'yolo' });
    expect((await other.api.get(`/api/v1/user/${owner.id}/audit`)).status).toBe(404);
    const seenByAdmin = await admin().get(`/api/v1/user/${owner.id}/audit`);
    expect(seenByAdmin.status).toBe(200);
    expect(seenByAdmin.body.some((e: { actor_id: string; action: string }) => e.actor_id === owner.id && e.action === 'createDataset')).toBe(true);
  });
});
