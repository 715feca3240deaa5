/** A container's resource use over time: CPU, memory, network and disk I/O (rates between samples). */
import { LineChart } from './chart';
import { bytes } from './format';
import type { StatsSample } from './container';

function rates(samples: StatsSample[], pick: (s: StatsSample) => number): number[] {
  return samples.slice(1).map((s, i) => {
    const dt = s.t - samples[i].t;
    return dt > 0 ? Math.max(0, (pick(s) - pick(samples[i])) / dt) : 0;
  });
}

export function StatsChartsView({ samples }: { samples: StatsSample[] }) {
  const t = samples.map((s) => s.t);
  const last = samples[samples.length - 1];
  const rateTimes = t.slice(1);
  const perSecond = (v: number) => `${bytes(v)}/s`;
  return (
    <div class="charts">
      <LineChart title="CPU" times={t} series={[{ label: 'CPU', values: samples.map((s) => s.cpu) }]} format={(v) => `${v.toFixed(2)}%`} minMax={5} testId="cpu-chart" />
      <LineChart title="Memory" times={t} series={[{ label: 'used', values: samples.map((s) => s.mem) }]} format={bytes} minMax={1024 * 1024} testId="memory-chart" />
      <LineChart
        title="Network"
        times={rateTimes}
        series={[
          { label: 'received', values: rates(samples, (s) => s.rx) },
          { label: 'sent', values: rates(samples, (s) => s.tx) },
        ]}
        format={perSecond}
        minMax={1024}
        testId="network-chart"
      />
      <LineChart
        title="Disk"
        times={rateTimes}
        series={[
          { label: 'read', values: rates(samples, (s) => s.read) },
          { label: 'written', values: rates(samples, (s) => s.write) },
        ]}
        format={perSecond}
        minMax={1024}
        testId="disk-chart"
      />
      <p class="muted">
        Memory limit {last?.limit ? bytes(last.limit) : '…'} · Network received {bytes(last?.rx ?? 0)}, sent {bytes(last?.tx ?? 0)} · Disk read {bytes(last?.read ?? 0)}, written{' '}
        {bytes(last?.write ?? 0)}
      </p>
    </div>
  );
}
