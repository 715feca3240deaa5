import { ResourceActions } from './access';

/**
 * The token server's access control list: which accounts may do what on which resources.
 * The file is a JSON array of rules:
 *
 *   [
 *     { "account": "alice", "name": "team/*", "actions": ["pull", "push", "delete"] },
 *     { "account": "*",     "name": "public/*", "actions": ["pull"] },
 *     { "account": "admin", "type": "registry", "name": "catalog", "actions": ["*"] }
 *   ]
 *
 * - account: a user of the htpasswd file, or "*" for anyone, anonymous clients included.
 * - type: "repository" (the default) or "registry" (whose only resource is "catalog").
 * - name: a glob over resource names: "*" matches any run of characters, "/" included
 *   ("team/*" covers "team/app" and "team/x/y"), "?" matches one character.
 * - actions: "pull", "push", "delete", or "*" for all of them.
 *
 * Rules only add: what a client gets on a resource is the union of the actions of every rule
 * that applies to it, intersected with the actions it asked for. There are no deny rules.
 */
export interface AclRule {
  account: string;
  type: string;
  name: string;
  actions: string[];
}

/** Throws with the rule's index when the document does not have the shape above. */
export function parseAcl(text: string): AclRule[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`ACL is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new Error('ACL must be a JSON array of rules');
  return doc.map((raw: unknown, i): AclRule => {
    const r = raw as Partial<AclRule>;
    const where = `ACL rule ${i}`;
    if (typeof r !== 'object' || r === null) throw new Error(`${where} is not an object`);
    if (typeof r.account !== 'string' || r.account === '') throw new Error(`${where}: account must be a user name or "*"`);
    if (r.type !== undefined && typeof r.type !== 'string') throw new Error(`${where}: type must be a string`);
    if (typeof r.name !== 'string' || r.name === '') throw new Error(`${where}: name must be a non-empty glob`);
    if (!Array.isArray(r.actions) || !r.actions.every((a) => typeof a === 'string')) throw new Error(`${where}: actions must be a list of strings`);
    return { account: r.account, type: r.type ?? 'repository', name: r.name, actions: r.actions };
  });
}

export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** The actions `account` ('' when anonymous) may take on a resource. */
export function allowedActions(acl: AclRule[], account: string, type: string, name: string): Set<string> {
  const out = new Set<string>();
  for (const rule of acl) {
    if (rule.account !== '*' && rule.account !== account) continue;
    if (rule.type !== type || !globToRegExp(rule.name).test(name)) continue;
    for (const a of rule.actions) out.add(a);
  }
  return out;
}

/** The part of a requested scope the ACL grants: requested actions that are allowed (or covered by "*"). */
export function grantedScope(acl: AclRule[], account: string, requested: ResourceActions): ResourceActions {
  const allowed = allowedActions(acl, account, requested.type, requested.name);
  const actions = requested.actions.filter((a) => allowed.has(a) || allowed.has('*'));
  return { type: requested.type, name: requested.name, actions };
}
