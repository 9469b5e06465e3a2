import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StateMachine } from 'aws-local-stepfunctions';
import { STATES } from '../lib/jobs/workflow';
import type { LocalBatch } from './batch';
import { LOCAL_STATE_MACHINE_ARN, localWorkflowDefinition } from './workflow-definition';

/**
 * The Step Functions stand-in: the job workflow's very definition run by aws-local-stepfunctions, behind
 * the two calls the functions make (StartExecution, StopExecution, in Step Functions' JSON protocol).
 * Lambda tasks run the same handlers in process; the Batch task runs on the local Batch; when an
 * execution ends, an "Execution Status Change" event goes to the same handler as in AWS.
 */
type Handler = (event: never) => Promise<unknown>;

export interface LocalStepFunctions {
  url: string;
  stop(): Promise<void>;
}

export async function startLocalStepFunctions(options: {
  prepare: Handler;
  finalize: Handler;
  fail: Handler;
  batch: LocalBatch;
  onExecutionEnd: (name: string, status: string) => Promise<void>;
}): Promise<LocalStepFunctions> {
  const machine = new StateMachine(JSON.parse(localWorkflowDefinition()), { validationOptions: { checkArn: false } });
  const executions = new Map<string, { abort: () => void; done: Promise<void> }>();
  const overrides = {
    taskResourceLocalHandlers: {
      [STATES.prepare]: (input: unknown) => options.prepare(input as never),
      [STATES.run]: (input: unknown) => options.batch.submitAndWait(input as never),
      [STATES.finalize]: (input: unknown) => options.finalize(input as never),
      [STATES.fail]: (input: unknown) => options.fail(input as never),
    },
  };

  function start(name: string, input: unknown): void {
    const execution = machine.run(input as never, { overrides, noThrowOnAbort: true } as never);
    let aborted = false;
    const done = (execution.result as Promise<unknown>).then(
      async () => {
        executions.delete(name);
        await options.onExecutionEnd(name, aborted ? 'ABORTED' : 'SUCCEEDED');
      },
      async (error: unknown) => {
        executions.delete(name);
        const status = (error as Error).name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
        await options.onExecutionEnd(name, status);
      },
    ).catch((error: unknown) => console.error('local step functions:', (error as Error).message));
    executions.set(name, { abort: () => ((aborted = true), execution.abort()), done });
  }

  const started = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
      };
      try {
        const target = String(req.headers['x-amz-target'] ?? '').split('.').pop();
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
        if (target === 'StartExecution') {
          if (body.stateMachineArn !== LOCAL_STATE_MACHINE_ARN) return reply(400, { __type: 'StateMachineDoesNotExist', message: body.stateMachineArn });
          if (started.has(body.name!)) return reply(400, { __type: 'ExecutionAlreadyExists', message: body.name });
          started.add(body.name!);
          start(body.name!, JSON.parse(body.input ?? '{}'));
          return reply(200, { executionArn: `${LOCAL_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${body.name}`, startDate: Date.now() / 1000 });
        }
        if (target === 'StopExecution') {
          const name = String(body.executionArn).split(':').pop()!;
          const execution = executions.get(name);
          if (!execution) return reply(400, { __type: 'ExecutionDoesNotExist', message: body.executionArn });
          // As in AWS, stopping a .sync Batch task terminates its Batch job.
          options.batch.terminateByName(name.replace(/-r\d+$/, ''), body.cause ?? 'execution stopped');
          execution.abort();
          return reply(200, { stopDate: Date.now() / 1000 });
        }
        return reply(400, { __type: 'UnknownOperationException', message: target });
      } catch (error) {
        return reply(500, { __type: 'InternalFailure', message: (error as Error).message });
      }
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      for (const execution of executions.values()) execution.abort();
      await Promise.all([...executions.values()].map((e) => e.done));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
