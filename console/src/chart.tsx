/**
 * A stacked bar chart drawn as plain SVG (no chart library): one bar per day, one segment per series.
 * Every segment carries its numbers as data attributes and a <title> (the tooltip and the accessible text).
 */

export interface Series {
  name: string;
  values: number[];
}

const NAMED = ['claude', 'codex', 'gemini'];

/** The CSS class giving a series its colour (the stylesheet defines light and dark values). */
export function seriesClass(name: string, i: number): string {
  return NAMED.includes(name) ? `s-${name}` : `s-${i % 3}`;
}

/** A "nice" upper bound for the axis (1, 2, 5 × 10^n). */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function short(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function StackedBars({
  id,
  title,
  days,
  series,
}: {
  id: string;
  title: string;
  days: string[];
  series: Series[];
}) {
  const W = 640;
  const H = 240;
  const left = 48;
  const bottom = 28;
  const top = 12;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const totals = days.map((_, i) => series.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const step = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(48, step * 0.7));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const ticks = [0, max / 2, max];
  const labelEvery = Math.ceil(days.length / 10);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg
        id={id}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={title}
        data-total={totals.reduce((a, b) => a + b, 0)}
      >
        {ticks.map((t) => (
          <g key={t} class="tick">
            <line x1={left} x2={W - 8} y1={y(t)} y2={y(t)} />
            <text x={left - 6} y={y(t) + 4} text-anchor="end">
              {short(t)}
            </text>
          </g>
        ))}
        {days.map((d, i) => {
          let acc = 0;
          const x = left + i * step + (step - barW) / 2;
          return (
            <g key={d} class="bar" data-day={d}>
              {series.map((s, si) => {
                const v = s.values[i] ?? 0;
                if (v <= 0) return null;
                const y0 = y(acc);
                acc += v;
                const y1 = y(acc);
                return (
                  <rect
                    key={s.name}
                    class={`segment ${seriesClass(s.name, si)}`}
                    data-series={s.name}
                    data-value={v}
                    x={x}
                    y={y1}
                    width={barW}
                    height={Math.max(1, y0 - y1)}
                  >
                    <title>{`${d} · ${s.name}: ${v.toLocaleString('en-US')}`}</title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text class="day" x={left + i * step + step / 2} y={H - 10} text-anchor="middle">
                  {d.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ul class="legend">
        {series.map((s, i) => (
          <li key={s.name}>
            <svg viewBox="0 0 10 10" width="10" height="10" aria-hidden="true">
              <rect width="10" height="10" class={seriesClass(s.name, i)} />
            </svg>{' '}
            {s.name}
          </li>
        ))}
      </ul>
    </figure>
  );
}
