import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { config } from './config';

/**
 * One client per AWS service per process. The local runtime points them at dynalite/s3rver through
 * the endpoint variables; in AWS the endpoints are unset and the SDK defaults apply.
 */
let documentClient: DynamoDBDocumentClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  if (documentClient) return documentClient;
  const { region, dynamoDbEndpoint } = config();
  const client = new DynamoDBClient({
    region,
    ...(dynamoDbEndpoint ? { endpoint: dynamoDbEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  documentClient = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}
