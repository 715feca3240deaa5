import type { MountPoint } from './mounts';
import type { EndpointRequest, SandboxState } from '../network/model';
import type { ContainerConfig, HostConfig } from '../api/types';

/** What Docker's `State` shows; kept in the container's record on disk. */
export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** present when the container has a health check (its image's HEALTHCHECK or --health-cmd) */
  Health?: HealthState;
}

/** Docker's State.Health: the current verdict and the last results of the check. */
export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

/** A container as stored in `<data-root>/containers/<id>/container.json`. */
export interface ContainerRecord {
  ID: string;
  Created: string;
  /** with the leading slash, as Docker keeps names */
  Name: string;
  Path: string;
  Args: string[];
  /** the merged configuration: the user's over the image's */
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** image ID, "sha256:..." */
  Image: string;
  State: ContainerState;
  RestartCount: number;
  Driver: string;
  /** pid of the conmon watching the current run, so a restarted daemon can find it */
  MonitorPid?: number;
  /** set by an explicit stop or kill, so a restart policy does not bring the container back */
  ManuallyStopped?: boolean;
  /** the platform it was created for */
  Platform: string;
  /** what the container asked for on each network it joins (by the name it used) */
  EndpointsConfig?: Record<string, EndpointRequest>;
  /** its network namespace and endpoints while it runs (kept to release them after a crash) */
  Sandbox?: SandboxState;
  /** binds, volumes and tmpfs mounts, decided at create */
  MountPoints?: MountPoint[];
  /**
   * created for `berth container move` and not yet whole (its layer and log still coming):
   * it cannot start, and a daemon that restarts removes it
   */
  MovePending?: boolean;
  /**
   * set on the source while `berth container move` takes the container to another daemon
   * (from before it stops until it is removed): the daemon never starts it on its own, not
   * when the daemon starts and not after an exit, so a move cut short by a crash between
   * the target's start and the source's removal cannot leave two running copies. Its
   * restart policy stays as it was; the move's rollback or a start by the user clears it.
   */
  MovingOut?: { To: string; Since: string };
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
