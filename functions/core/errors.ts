/**
 * Domain errors. Use cases throw these; only the HTTP error middleware (functions/api/http.ts) maps
 * them to status codes, so the domain never speaks HTTP.
 */
export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'too_large'
  | 'unprocessable'
  | 'too_many_requests'
  | 'internal';

export interface ErrorDetail {
  path?: (string | number)[];
  message: string;
  code?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends DomainError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('bad_request', message, details);
  }
}
export class Unauthorized extends DomainError {
  constructor(message = 'a valid bearer token is required') {
    super('unauthorized', message);
  }
}
export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}
export class NotFound extends DomainError {
  constructor(what: string) {
    super('not_found', `${what} not found`);
  }
}
export class Conflict extends DomainError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('conflict', message, details);
  }
}
export class PreconditionFailed extends DomainError {
  constructor(message = 'If-Match does not match the current revision') {
    super('precondition_failed', message);
  }
}
export class TooLarge extends DomainError {
  constructor(message: string) {
    super('too_large', message);
  }
}
export class Unprocessable extends DomainError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super('unprocessable', message, details);
  }
}
