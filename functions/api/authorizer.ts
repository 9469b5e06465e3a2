import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import type { AuthorizerContext } from '../core/caller';
import { authenticate } from '../core/identity';

/**
 * The API Gateway Lambda authorizer (simple responses, no caching, no identity source).
 * It always lets the request through with a context that says who the caller is or why its token was
 * refused; the handlers' middleware then answers 401 in the project's flat error shape. API Gateway's
 * own 401/403 bodies would break that shape for TAO clients.
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  const authorization = event.headers?.authorization ?? event.headers?.Authorization;
  try {
    return { isAuthorized: true, context: await authenticate(authorization) };
  } catch {
    // The table did not answer: refuse rather than guess; the handler answers 401 with this reason.
    return { isAuthorized: true, context: { authenticated: false, reason: 'authentication is unavailable; retry' } };
  }
}
