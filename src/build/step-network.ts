import { invalid } from '../common/errors';
import type { NetworkManager } from '../network/manager';
import type { StepNetwork } from './run-step';

/**
 * The network of a build's RUN steps (`docker build --network`), as the classic builder gives
 * its step containers: `none` is a namespace of its own with only loopback; a network's name
 * or ID is an endpoint on it, made once for the build, with the network's DNS server (so the
 * steps reach its containers by name and alias).
 */
export function stepNetworks(network: NetworkManager): (mode: string, owner: string) => Promise<{ network: StepNetwork; release: () => Promise<void> }> {
  return async (mode, owner) => {
    if (mode === 'none') return { network: { netns: 'new' }, release: async () => undefined };
    if (mode.startsWith('container:')) throw invalid(`network mode ${mode} is not supported for builds`);
    const n = network.get(mode);
    const sandbox = await network.setupSandbox({ containerId: owner, name: owner, networks: [[n.Id, {}]], ports: [] });
    const ep = sandbox.endpoints[0];
    return {
      network: { netns: { path: sandbox.netns }, addresses: [ep.ipAddress], embeddedDns: network.dnsServerFor(n), gateway: ep.gateway },
      release: () => network.teardownSandbox(owner, sandbox),
    };
  };
}
