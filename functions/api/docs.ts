import { docsPage, openApiDocument } from '../core/openapi';
import { httpHandler } from './http';

/** The OpenAPI document and a self-contained docs page (no CDN: it must work offline too). */
export const handler = httpHandler('docs', {
  getOpenApi: async () => openApiDocument(),
  getDocs: async () => docsPage(),
});
