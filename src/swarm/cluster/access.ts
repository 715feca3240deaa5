/**
 * Who may read and write what in the cluster's etcd. Every node is an etcd user named by
 * its node ID, with a password the manager that admitted it made (kept in the node's
 * certs directory). Managers hold etcd's root role; workers hold `swarm-worker`: they read
 * the cluster's objects and write only what an agent writes (task states, heartbeats).
 * The secrets (the CA's key, the join tokens) live under a prefix no worker can read, so a
 * worker's credentials cannot mint certificates or join tokens.
 *
 * etcd answers its JSON gateway by token only (it ignores certificate names there), so the
 * users have passwords; the mutual TLS stays as the transport's protection.
 */
import { randomBytes } from 'node:crypto';
import type { EtcdClient } from '../etcd/client';
import { PREFIX } from './store';

export const WORKER_ROLE = 'swarm-worker';

export function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

/** Turns access control on for a new cluster, whose first manager is `managerId`. */
export async function enableAccessControl(client: EtcdClient, managerId: string, managerPassword: string): Promise<void> {
  // etcd wants a root user before it turns auth on; nobody logs in as it
  await client.userAdd('root', newPassword());
  await client.userGrantRole('root', 'root');
  await client.roleAdd(WORKER_ROLE);
  await client.roleGrantPrefix(WORKER_ROLE, PREFIX, 'READ');
  await client.roleGrantPrefix(WORKER_ROLE, `${PREFIX}tasks/`, 'READWRITE');
  await client.roleGrantPrefix(WORKER_ROLE, `${PREFIX}heartbeats/`, 'READWRITE');
  await client.userAdd(managerId, managerPassword);
  await client.userGrantRole(managerId, 'root');
  await client.authEnable();
}

/** Makes the etcd user of a node that joins; its password. */
export async function addNodeUser(client: EtcdClient, nodeId: string, role: 'manager' | 'worker'): Promise<string> {
  const password = newPassword();
  await client.userAdd(nodeId, password);
  await setNodeAccess(client, nodeId, role);
  return password;
}

/** Gives a node the access of its role (promote and demote change it). */
export async function setNodeAccess(client: EtcdClient, nodeId: string, role: 'manager' | 'worker'): Promise<void> {
  if (role === 'manager') {
    await client.userGrantRole(nodeId, 'root');
    await client.userRevokeRole(nodeId, WORKER_ROLE);
  } else {
    await client.userGrantRole(nodeId, WORKER_ROLE);
    await client.userRevokeRole(nodeId, 'root');
  }
}
