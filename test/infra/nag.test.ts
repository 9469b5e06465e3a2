import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newOutdir, removeSynthOutput, type Synthesized, synthTrainyard } from './synth';

/**
 * cdk-nag 3 is a CDK policy-validation plugin, not an Aspect: its findings do not become annotations
 * (Annotations.fromStack(...).findError('*', /AwsSolutions-/) is always empty). An unacknowledged finding
 * makes `app.synth()` throw with the whole report, and the report is written to validation-report.json
 * in the cloud assembly. Both are checked here, and a canary proves the checks run at all.
 */
interface ValidationReport {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity?: string; violatingConstructs?: { constructPath: string }[] }[] }[];
}

let outdir: string;
let synthesized: Synthesized | undefined;
let synthError: unknown;

afterAll(removeSynthOutput);

beforeAll(() => {
  // Prepare: synthesize the app with the AWS Solutions pack, keeping the failure (if any) for the assertions.
  outdir = newOutdir();
  try {
    synthesized = synthTrainyard({ outdir });
  } catch (error) {
    synthError = error;
  }
});

function findings(): string[] {
  const reportFile = join(outdir, 'validation-report.json');
  if (!existsSync(reportFile)) return [];
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as ValidationReport;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((v) => (v.violatingConstructs ?? [{ constructPath: '?' }]).map((c) => `${plugin.pluginName} ${v.ruleName} ${v.severity ?? ''} at ${c.constructPath}`)),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged on either stack (synthesis does not fail)', () => {
    // The error message holds the full validation report: it says which rule fired on which construct.
    expect(synthError === undefined ? '' : String(synthError)).toBe('');
    expect(findings().filter((f) => f.includes('AwsSolutions-'))).toEqual([]);
  });

  it('leaves no other validation finding either (CloudFormation rules, construct annotations)', () => {
    expect(findings()).toEqual([]);
    for (const stack of [synthesized!.data, synthesized!.platform]) {
      expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
      expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
    }
  });

  it('is live: an unacknowledged violation fails synthesis and names the rule', () => {
    // A bucket with none of the protections the data bucket has (no TLS-only policy, no access logs).
    const withCanary = () => synthTrainyard({ extend: ({ data }) => new s3.Bucket(data, 'NagCanary') });
    expect(withCanary).toThrow(/AwsSolutions-S10/);
  });
});
