import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_FUNCTION_ARNS, localWorkflowDefinition } from '../../local/workflow-definition';
import { removeSynthOutput, synthTrainyard } from './synth';

/** The jobs engine in the template: the very workflow the local runtime runs, and who may start what. */
let platform: ReturnType<typeof synthTrainyard>['platform'];
let template: Template;
const logicalId = (stack: Stack, construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);

beforeAll(() => {
  platform = synthTrainyard().platform;
  template = Template.fromStack(platform);
});
afterAll(removeSynthOutput);

/** A template value with its references replaced: the task functions by the local ARNs, anything else by a marker. */
function render(value: unknown, functions: Record<string, string>): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if (node['Fn::Join']) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => render(part, functions)).join(separator);
  }
  if (node['Fn::GetAtt']) {
    const [id, attribute] = node['Fn::GetAtt'] as [string, string];
    if (attribute === 'Arn' && functions[id]) return functions[id]!;
  }
  return `<${JSON.stringify(value)}>`;
}

describe('the job workflow', () => {
  it('the definition the local runtime executes is byte for byte the synthesized one (with the local function ARNs)', () => {
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const [machine] = Object.values(machines) as { Properties: { DefinitionString: unknown } }[];
    const functions = {
      [logicalId(platform, platform.jobs.functions.prepare)]: LOCAL_FUNCTION_ARNS.prepare,
      [logicalId(platform, platform.jobs.functions.finalize)]: LOCAL_FUNCTION_ARNS.finalize,
      [logicalId(platform, platform.jobs.functions.fail)]: LOCAL_FUNCTION_ARNS.fail,
    };
    expect(render(machine!.Properties.DefinitionString, functions)).toBe(localWorkflowDefinition());
  });

  it('runs the job on Batch synchronously with the Spot-reclaim retry strategy and the attempt timeout from Prepare, and catches every failure', () => {
    const definition = JSON.parse(localWorkflowDefinition());
    expect(definition.StartAt).toBe('Prepare');
    expect(definition.States.Run).toMatchObject({
      Resource: 'arn:aws:states:::batch:submitJob.sync',
      Parameters: {
        'JobQueue.$': '$.job_queue',
        'JobDefinition.$': '$.job_definition',
        Timeout: { 'AttemptDurationSeconds.$': '$.timeout_s' },
        RetryStrategy: { Attempts: 3, EvaluateOnExit: [{ OnStatusReason: 'Host EC2*', Action: 'RETRY' }, { OnReason: '*', Action: 'EXIT' }] },
      },
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Fail' }],
    });
    for (const state of ['Prepare', 'Finalize']) expect(definition.States[state].Catch).toEqual([expect.objectContaining({ Next: 'Fail' })]);
  });

  it('the state machine may submit only to the job queues and job definitions of the stack', () => {
    const role = { Ref: logicalId(platform, platform.jobs.stateMachine.role) };
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: unknown[]; PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }[];
    const statements = policies.filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify(role))).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const submit = statements.find((s) => [s.Action].flat().includes('batch:SubmitJob'))!;
    expect(JSON.stringify(submit.Resource)).not.toContain('*');
    const refs = [platform.compute.queues.cpu, platform.compute.queues.gpu, platform.compute.jobDefinitions.cpu, platform.compute.jobDefinitions.gpu].map((c) => logicalId(platform, c));
    for (const ref of refs) expect(JSON.stringify(submit.Resource)).toContain(ref);
  });

  it("Batch state changes on the stack's queues and the workflow's stopped executions reach the job-state function", () => {
    const target = { Arn: { 'Fn::GetAtt': [logicalId(platform, platform.jobs.functions.jobState), 'Arn'] } };
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.batch'], 'detail-type': ['Batch Job State Change'] }), Targets: [Match.objectLike(target)] });
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: Match.objectLike({ source: ['aws.states'], detail: Match.objectLike({ status: ['ABORTED', 'TIMED_OUT', 'FAILED'] }) }), Targets: [Match.objectLike(target)] });
  });

  it('the jobs API function knows the state machine and may start and stop its executions', () => {
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(platform, platform.api.handlers.jobs)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables.TRAINYARD_STATE_MACHINE_ARN).toEqual({ Ref: logicalId(platform, platform.jobs.stateMachine) });
  });
});
