import { Tags, Validations, type App, type StackProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DataStack } from '../lib/data-stack';
import { PlatformStack } from '../lib/platform-stack';

export interface Trainyard {
  readonly data: DataStack;
  readonly platform: PlatformStack;
}

/**
 * Wire Trainyard's two stacks into `app`: the stateful DataStack (table, bucket, cursor secret; retained)
 * and the stateless PlatformStack (API and functions), which receives the data as props. cdk-nag's
 * AWS Solutions pack validates both at synthesis: an unacknowledged finding fails the synth.
 *
 * The stacks are environment-agnostic (no account lookups), so `cdk synth` works offline; `cdk deploy`
 * targets the account and region of the current AWS credentials.
 */
export function trainyardApp(app: App, stackProps: StackProps = {}): Trainyard {
  const data = new DataStack(app, 'TrainyardData', {
    ...stackProps,
    description: 'Trainyard state: DynamoDB table, S3 data bucket, cursor signing key (retained)',
  });
  const platform = new PlatformStack(app, 'TrainyardPlatform', {
    ...stackProps,
    description: 'Trainyard API: HTTP API, Lambda authorizer and handlers',
    table: data.table,
    bucket: data.bucket,
    cursorSecret: data.cursorSecret,
  });
  Tags.of(app).add('project', 'trainyard');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { data, platform };
}
