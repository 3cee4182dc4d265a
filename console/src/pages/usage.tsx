/**
 * Usage: requests and tokens per UTC day stacked by backend, a table by key and backend, a date range.
 * Admins see every key (and may pick one); a user key sees only itself (the server enforces it).
 */
import { useState } from 'preact/hooks';
import { ApiFailure, call, query, type Usage, type UsageRow } from '../api';
import { StackedBars, type Series } from '../chart';
import { useApp } from '../context';
import { Empty, ErrorBox, fmtDuration, fmtNum, useApi } from '../ui';

const DAY = 86_400_000;
const iso = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Every UTC day from `from` to `to`, both included. */
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= end && out.length < 400; t += DAY) out.push(iso(t));
  return out;
}

function seriesOf(rows: UsageRow[], days: string[], value: (r: UsageRow) => number): Series[] {
  const names = [...new Set(rows.map((r) => r.backend ?? 'unknown'))].sort();
  return names.map((name) => ({
    name,
    values: days.map((d) =>
      rows
        .filter((r) => (r.backend ?? 'unknown') === name && (r.day ?? '').slice(0, 10) === d)
        .reduce((a, r) => a + value(r), 0),
    ),
  }));
}

export function UsagePage() {
  const { keyVersion, me } = useApp();
  const today = iso(Date.now());
  const [from, setFrom] = useState(iso(Date.now() - 6 * DAY));
  const [to, setTo] = useState(today);
  const [key, setKey] = useState('');
  const admin = me?.role === 'admin';
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(from) && /^\d{4}-\d{2}-\d{2}$/.test(to) && from <= to;
  // `to` is exclusive on the server: the day after the last day shown
  const range = { from, to: valid ? iso(Date.parse(`${to}T00:00:00Z`) + DAY) : to, key: admin ? key : '' };
  const perDay = useApi(
    (signal) =>
      valid
        ? call<Usage>(`/api/v1/usage${query({ ...range, group_by: 'day,backend' })}`, { signal })
        : Promise.reject(new Error('Pick a start day on or before the end day.')),
    [keyVersion, from, to, key, admin],
  );
  const byKey = useApi(
    (signal) =>
      valid
        ? call<Usage>(`/api/v1/usage${query({ ...range, group_by: 'key,backend' })}`, { signal })
        : Promise.resolve(undefined),
    [keyVersion, from, to, key, admin],
  );
  const days = valid ? daysBetween(from, to) : [];
  const rows = perDay.data?.rows ?? [];
  const keys = [...new Set((byKey.data?.rows ?? []).map((r) => r.key).filter((k): k is string => !!k))].sort();
  const notThere =
    perDay.error instanceof ApiFailure && perDay.error.status === 404 && perDay.error.code === 'not_found';

  return (
    <div class="page" id="page-usage">
      <h1>Usage</h1>
      {me && (
        <p class="muted" id="usage-scope">
          {admin ? 'Admin key: usage of every key.' : `Usage of your key (${me.name}).`}
          {me.today && (
            <>
              {' '}
              Today: {fmtNum(me.today.requests)} {me.today.requests === 1 ? 'request' : 'requests'}
              {me.limits?.requests_per_day != null ? ` of ${fmtNum(me.limits.requests_per_day)}` : ''},{' '}
              {fmtNum(me.today.tokens)} tokens
              {me.limits?.tokens_per_day != null ? ` of ${fmtNum(me.limits.tokens_per_day)}` : ''}, {me.today.running}{' '}
              running.
            </>
          )}
        </p>
      )}
      <form class="filters" aria-label="Date range" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="u-from">From (UTC day)</label>
          <input
            id="u-from"
            type="date"
            value={from}
            max={to}
            onChange={(e) => setFrom((e.target as HTMLInputElement).value)}
          />
        </div>
        <div class="field">
          <label for="u-to">To (UTC day, included)</label>
          <input
            id="u-to"
            type="date"
            value={to}
            min={from}
            onChange={(e) => setTo((e.target as HTMLInputElement).value)}
          />
        </div>
        {admin && (
          <div class="field">
            <label for="u-key">Key</label>
            <select id="u-key" value={key} onChange={(e) => setKey((e.target as HTMLSelectElement).value)}>
              <option value="">every key</option>
              {[...new Set([...keys, key].filter(Boolean))].map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </div>
        )}
      </form>
      {notThere ? (
        <ErrorBox error={new Error('This server does not record usage (GET /api/v1/usage is not available).')} />
      ) : (
        <ErrorBox error={perDay.error} onRetry={perDay.reload} />
      )}
      {perDay.data && (
        <>
          {rows.length === 0 && <Empty>No runs in this range.</Empty>}
          <div class="charts">
            <StackedBars
              id="chart-requests"
              title="Requests per day"
              days={days}
              series={seriesOf(rows, days, (r) => r.requests)}
            />
            <StackedBars
              id="chart-tokens"
              title="Tokens per day (input + output)"
              days={days}
              series={seriesOf(rows, days, (r) => r.input_tokens + r.output_tokens)}
            />
          </div>
        </>
      )}
      <h2>By key and backend</h2>
      <ErrorBox error={notThere ? undefined : byKey.error} />
      {byKey.data && byKey.data.rows.length === 0 && <Empty>No usage in this range.</Empty>}
      {byKey.data && byKey.data.rows.length > 0 && (
        <table id="usage-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Backend</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Failed
              </th>
              <th scope="col" class="num">
                Input tokens
              </th>
              <th scope="col" class="num">
                Output tokens
              </th>
              <th scope="col" class="num">
                Cached tokens
              </th>
              <th scope="col" class="num">
                Run time
              </th>
            </tr>
          </thead>
          <tbody>
            {byKey.data.rows.map((r) => (
              <tr key={`${r.key}/${r.backend}`} data-key={r.key} data-backend={r.backend}>
                <td>{r.key}</td>
                <td>{r.backend}</td>
                <td class="num">{fmtNum(r.requests)}</td>
                <td class="num">{fmtNum(r.failed)}</td>
                <td class="num">{fmtNum(r.input_tokens)}</td>
                <td class="num">{fmtNum(r.output_tokens)}</td>
                <td class="num">{fmtNum(r.cached_tokens)}</td>
                <td class="num">{fmtDuration(r.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={2}>
                Total
              </th>
              <td class="num">{fmtNum(byKey.data.totals.requests)}</td>
              <td class="num">{fmtNum(byKey.data.totals.failed)}</td>
              <td class="num">{fmtNum(byKey.data.totals.input_tokens)}</td>
              <td class="num">{fmtNum(byKey.data.totals.output_tokens)}</td>
              <td class="num">{fmtNum(byKey.data.totals.cached_tokens)}</td>
              <td class="num">{fmtDuration(byKey.data.totals.duration_ms)}</td>
            </tr>
          </tfoot>
        </table>
      )}
    </div>
  );
}
