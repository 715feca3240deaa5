/** A live line chart (uPlot) of one value over time, with the latest value written out beside it. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartProps {
  title: string;
  /** seconds since the epoch and values, oldest first */
  times: number[];
  values: number[];
  format: (v: number) => string;
  /** the y axis never shows less than this (100 for percent) */
  minMax?: number;
  testId: string;
}

export function LineChart({ title, times, values, format, minMax, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const el = box.current!;
    const width = () => Math.max(240, el.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height: 160,
        legend: { show: false },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, minMax ?? 1)] } },
        axes: [{ stroke: '#333' }, { stroke: '#333', size: 70, values: (_u, ticks) => ticks.map(format) }],
        series: [{}, { label: title, stroke: '#1f5fbf', width: 2, fill: 'rgba(31,95,191,0.12)' }],
      },
      [[], []],
      el,
    );
    const onResize = () => plot.current?.setSize({ width: width(), height: 160 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.current?.destroy();
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([times, values]);
  }, [times, values]);
  const last = values.length ? values[values.length - 1] : undefined;
  return (
    <figure class="chart" data-testid={testId} data-last={last === undefined ? '' : String(last)}>
      <figcaption>
        {title}: <strong>{last === undefined ? '…' : format(last)}</strong>
      </figcaption>
      <div ref={box} />
    </figure>
  );
}

/** Bars by kind (system disk use). */
export function BarChart({ labels, values, format, testId }: { labels: string[]; values: number[]; format: (v: number) => string; testId: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const xs = labels.map((_l, i) => i);
    const p = new uPlot(
      {
        width: Math.max(260, el.clientWidth),
        height: 220,
        legend: { show: false },
        scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          { stroke: '#333', splits: () => xs, values: (_u, ticks) => ticks.map((t) => labels[t] ?? '') },
          { stroke: '#333', size: 70, values: (_u, ticks) => ticks.map(format) },
        ],
        series: [{}, { label: 'size', fill: '#1f5fbf', stroke: '#1f5fbf', paths: uPlot.paths.bars!({ size: [0.6, 80] }), points: { show: false } }],
      },
      [xs, values],
      el,
    );
    return () => p.destroy();
  }, [labels.join(), values.join()]);
  return <div class="chart" data-testid={testId} ref={box} />;
}
