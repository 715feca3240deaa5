/** A live line chart (uPlot) of one value over time, with the latest value written out beside it. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/** line colours with at least 4.5:1 contrast on white */
const COLOURS = ['#1f5fbf', '#a4161a', '#0b5d27'];

export interface ChartProps {
  title: string;
  /** seconds since the epoch, oldest first */
  times: number[];
  /** one line per series, each as long as `times`; the first is written out as the latest value */
  series: { label: string; values: number[] }[];
  format: (v: number) => string;
  /** the y axis never shows less than this (100 for percent) */
  minMax?: number;
  testId: string;
}

export function LineChart({ title, times, series, format, minMax, testId }: ChartProps) {
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
        scales: {
          // always the last minute, also while there are only a few samples
          // (the window ends at our newest sample: with one point uPlot pads its max by a day,
          // 86400 / ms, which in seconds is a thousand days)
          x: {
            range: (u) => {
              const xs = u.data[0];
              const end = xs.length ? xs[xs.length - 1] : Date.now() / 1000;
              return [end - 60, end];
            },
          },
          y: { range: (_u, _min, max) => [0, Math.max(max * 1.15, minMax ?? 1)] },
        },
        axes: [{ stroke: '#333' }, { stroke: '#333', size: 90, values: (_u, ticks) => ticks.map(format) }],
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, fill: i === 0 ? 'rgba(31,95,191,0.12)' : undefined }))],
      },
      [[], ...series.map(() => [])],
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
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);
  const latest = series.map((s) => (s.values.length ? s.values[s.values.length - 1] : undefined));
  return (
    <figure class="chart" data-testid={testId} data-last={latest[0] === undefined ? '' : String(latest[0])}>
      <figcaption>
        {title}:{' '}
        {series.map((s, i) => (
          <span class="reading">
            {series.length > 1 && <span style={{ color: COLOURS[i % COLOURS.length] }}>■ {s.label} </span>}
            <strong>{latest[i] === undefined ? '…' : format(latest[i]!)}</strong>{' '}
          </span>
        ))}
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
