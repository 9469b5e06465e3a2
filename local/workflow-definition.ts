import { App, Stack } from 'aws-cdk-lib';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { jobWorkflow } from '../lib/jobs/workflow';

/**
 * The job workflow's definition as the local runtime runs it: the same pure function CDK deploys
 * (lib/jobs/workflow.ts), rendered with local ARNs for its functions. A test checks it is byte for byte
 * what synthesis puts in the template, with those ARNs in place of the template's references.
 */
export const LOCAL_FUNCTION_ARNS = {
  prepare: 'arn:aws:lambda:us-east-1:000000000000:function:trainyard-job-prepare',
  finalize: 'arn:aws:lambda:us-east-1:000000000000:function:trainyard-job-finalize',
  fail: 'arn:aws:lambda:us-east-1:000000000000:function:trainyard-job-fail',
} as const;

export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:trainyard-jobs';

export function localWorkflowDefinition(): string {
  const stack = new Stack(new App(), 'LocalWorkflow');
  const fn = (name: keyof typeof LOCAL_FUNCTION_ARNS) => LambdaFunction.fromFunctionArn(stack, name, LOCAL_FUNCTION_ARNS[name]);
  const chain = jobWorkflow(stack, { prepare: fn('prepare'), finalize: fn('finalize'), fail: fn('fail') });
  const graph = new sfn.StateGraph(chain.startState, 'jobs');
  return JSON.stringify(stack.resolve(graph.toGraphJson()));
}
