import autocannon from 'autocannon';
import { pool, post, progress, report, round, withRuntime } from './common';

/**
 * Local API throughput and latency at 50 connections through the whole local path (HTTP server →
 * authorizer → middy → DynamoDB adapter → dynalite): GET one dataset, and GET a list page of 20.
 * Budget: GET p99 ≤ 25 ms.
 */
const CONNECTIONS = 50;
const DURATION_S = 10;
const BUDGET_P99_MS = 25;

async function load(url: string, token: string, connections = CONNECTIONS) {
  const result = await autocannon({ url, connections, duration: DURATION_S, headers: { authorization: `Bearer ${token}` } });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { requests_per_s: round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99, requests: result.requests.total };
}

const figures = await withRuntime(async ({ url, userId, token }) => {
  const base = `${url}/api/v1/user/${userId}/dataset`;
  const auth = { authorization: `Bearer ${token}` };
  const ids: string[] = [];
  await pool(50, 8, async (i) => ids.push((await post(base, auth, { type: 'object_detection', format: 'coco', name: `bench ${i}` })).id as string));
  progress('GET one dataset…');
  const get = await load(`${base}/${ids[0]}`, token);
  progress(`  ${JSON.stringify(get)}\nGET a list page (size=20)…`);
  const list = await load(`${base}?size=20`, token);
  progress(`  ${JSON.stringify(list)}\nGET one dataset at 4 connections (latency without queueing)…`);
  const get4 = await load(`${base}/${ids[0]}`, token, 4);
  progress(`  ${JSON.stringify(get4)}\nGET liveness (the stack without the table)…`);
  const liveness = await load(`${url}/api/v1/health/liveness`, token);
  progress(`  ${JSON.stringify(liveness)}`);
  // Closed loop: each connection waits for its answer, so latency ≈ connections / throughput (Little's law).
  progress(`At ${CONNECTIONS} connections a p99 of ${BUDGET_P99_MS} ms needs well over ${Math.round(CONNECTIONS / (BUDGET_P99_MS / 1000))} GET/s; measured ${get.requests_per_s}.`);
  return { get, list, get_4_connections: get4, liveness };
});
report({ bench: 'http-throughput', connections: CONNECTIONS, duration_s: DURATION_S, ...figures, budget_get_p99_ms: BUDGET_P99_MS, within_budget: figures.get.p99_ms <= BUDGET_P99_MS });
