/**
 * Templated configs and secrets (`Templating: {Name: "golang"}`): the payload is a Go
 * template, rendered by the node for each task that gets the file, as swarmkit's agent does.
 * The template sees the service, the task and the node (`{{.Service.Name}}`,
 * `{{.Task.Name}}`, `{{.Node.Hostname}}` …) and has swarmkit's functions: `env` (the
 * container's own environment, not the node's), and `config`/`secret` (the payload of
 * another config or secret the task is given).
 */
import { invalid } from '../../common/errors';
import { Template, TemplateError } from '../../cli/template';
import type { Service, SwarmNode, Task } from './model';

export const TEMPLATING_DRIVER = 'golang';

/** A spec's Templating as kept: only Docker's one driver is taken. */
export function checkTemplating(templating: unknown): { Name: string; Options?: Record<string, string> } | undefined {
  if (templating === undefined || templating === null) return undefined;
  const t = templating as { Name?: string; Options?: Record<string, string> };
  if (t.Name !== TEMPLATING_DRIVER) throw invalid(`rpc error: code = InvalidArgument desc = templating driver "${t.Name ?? ''}" is not supported: only "${TEMPLATING_DRIVER}" is`);
  return { Name: t.Name, ...(t.Options ? { Options: t.Options } : {}) };
}

/** What a template sees, as swarmkit's context names it. */
export interface TemplateContext {
  Service: { ID: string; Name: string; Labels: Record<string, string> };
  Node: { ID: string; Hostname: string; Platform: { Architecture: string; OS: string } };
  Task: { ID: string; Name: string; Slot: string };
}

export function templateContext(t: Task, svc: Service, node: SwarmNode | undefined): TemplateContext {
  const slot = t.Slot !== undefined ? String(t.Slot) : (t.NodeID ?? '');
  return {
    Service: { ID: svc.ID, Name: svc.Spec.Name, Labels: { ...(svc.Spec.Labels ?? {}) } },
    Node: { ID: t.NodeID ?? '', Hostname: node?.Description.Hostname ?? '', Platform: { ...(node?.Description.Platform ?? { Architecture: '', OS: '' }) } },
    Task: { ID: t.ID, Name: `${svc.Spec.Name}.${slot}.${t.ID}`, Slot: slot },
  };
}

export interface TemplateSources {
  /** the container's environment, `KEY=value` */
  env: string[];
  /** the payload of a config the task is given, by name */
  config: (name: string) => string;
  /** the payload of a secret the task is given, by name */
  secret: (name: string) => string;
}

/** The payload rendered for one task; a template that fails says why, as the task's error. */
export function renderPayload(payload: Buffer, ctx: TemplateContext, sources: TemplateSources): Buffer {
  const env = new Map(sources.env.map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)] as [string, string]));
  try {
    const tpl = new Template(payload.toString('utf8'), ['env', 'config', 'secret']);
    const out = tpl.execute(ctx, {
      missingKey: 'error',
      funcs: {
        env: (name) => env.get(String(name)) ?? '',
        config: (name) => sources.config(String(name)),
        secret: (name) => sources.secret(String(name)),
      },
    });
    return Buffer.from(out, 'utf8');
  } catch (e) {
    const why = e instanceof TemplateError ? e.message : (e as Error).message;
    throw new Error(`failed to expand templated payload: ${why}`);
  }
}
