import type { IncomingMessage } from 'node:http';
import type { Access, Grant } from './access';

/**
 * An auth scheme as the registry sees it: given a request and the accesses it needs, either
 * the client's grant (so handlers can ask about further accesses, like a mount's source) or
 * a thrown 401 RegistryError whose WWW-Authenticate header tells the client what to do.
 * `wanted` accesses are not required, but are asked for in challenges along with `needed`.
 */
export interface Authorizer {
  authorize(req: IncomingMessage, needed: Access[], wanted?: Access[]): Promise<Grant>;
}
