/** Overview: health, backends with versions, what runs and waits right now (with Cancel), recent jobs. */
import { useState } from 'preact/hooks';
import { call, describe, type BackendInfo, type ExecutionInfo, type Health, type Job } from '../api';
import { useApp } from '../context';
import { Badge, Empty, ErrorBox, fmtDuration, fmtTime, useApi, useNow } from '../ui';

export function OverviewPage() {
  const { keyVersion } = useApp();
  // without a valid key /health may answer only its status: every other field is optional here
  const health = useApi((signal) => call<Partial<Health>>('/health', { signal }), [keyVersion], 5000);
  const backends = useApi(
    (signal) => call<{ backends: BackendInfo[] }>('/api/v1/backends', { signal }),
    [keyVersion],
    15000,
  );
  const execs = useApi(
    (signal) => call<{ executions: ExecutionInfo[] }>('/api/v1/executions', { signal }),
    [keyVersion],
    2000,
  );
  const jobs = useApi(
    (signal) => call<{ jobs: Job[]; total: number }>('/api/v1/jobs?limit=5', { signal }),
    [keyVersion],
    5000,
  );
  const now = useNow(1000);
  const [cancelError, setCancelError] = useState<unknown>(undefined);
  const h = health.data;

  const cancel = async (id: string) => {
    setCancelError(undefined);
    try {
      await call(`/api/v1/executions/${id}/cancel`, { method: 'POST' });
    } catch (err) {
      setCancelError(err);
    }
    execs.reload();
  };

  return (
    <div class="page" id="page-overview">
      <h1>Overview</h1>
      <section aria-labelledby="health-h">
        <h2 id="health-h">Health</h2>
        <ErrorBox error={health.error} onRetry={health.reload} />
        {h && (
          <dl class="facts" id="health">
            <dt>Status</dt>
            <dd>{h.status ? <Badge value={h.status} /> : '—'}</dd>
            {h.version !== undefined && (
              <>
                <dt>Version</dt>
                <dd>{h.version}</dd>
              </>
            )}
            {h.uptime !== undefined && (
              <>
                <dt>Uptime</dt>
                <dd>{h.uptime}</dd>
              </>
            )}
            {h.executions && (
              <>
                <dt>Executions</dt>
                <dd>
                  {h.executions.running} running, {h.executions.queued} queued (of {h.executions.max_concurrent} slots,{' '}
                  {h.executions.max_queued} queue places)
                </dd>
              </>
            )}
            {h.session_store && (
              <>
                <dt>Sessions</dt>
                <dd>
                  {h.session_store.available
                    ? (h.session_store.session_count ?? '—')
                    : `unavailable: ${h.session_store.error ?? ''}`}
                </dd>
              </>
            )}
          </dl>
        )}
      </section>

      <section aria-labelledby="backends-h">
        <h2 id="backends-h">Backends</h2>
        <ErrorBox error={backends.error} onRetry={backends.reload} />
        {backends.data && (
          <table id="backends">
            <thead>
              <tr>
                <th scope="col">Backend</th>
                <th scope="col">State</th>
                <th scope="col">Version</th>
                <th scope="col">Default model</th>
                <th scope="col">Command</th>
              </tr>
            </thead>
            <tbody>
              {backends.data.backends.map((b) => (
                <tr key={b.name} data-backend={b.name}>
                  <th scope="row">{b.name}</th>
                  <td>
                    <Badge value={!b.enabled ? 'disabled' : b.available ? 'available' : 'unavailable'} />
                  </td>
                  <td class="version">
                    {b.version ?? '—'}
                    {b.version && b.verified === false && <span class="muted"> (not verified)</span>}
                  </td>
                  <td>{b.model ?? '—'}</td>
                  <td class="mono">{b.command ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="exec-h">
        <h2 id="exec-h">Running and queued now</h2>
        <ErrorBox error={execs.error} onRetry={execs.reload} />
        {cancelError !== undefined && <div class="error">{describe(cancelError)}</div>}
        {execs.data && execs.data.executions.length === 0 && <Empty>Nothing is running or waiting.</Empty>}
        {execs.data && execs.data.executions.length > 0 && (
          <table id="executions">
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Kind</th>
                <th scope="col">Backend</th>
                <th scope="col">Key</th>
                <th scope="col">Since</th>
                <th scope="col">Job / session</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {execs.data.executions.map((e) => {
                const since = e.started_at ?? e.queued_at;
                return (
                  <tr key={e.id} data-execution={e.id}>
                    <td>
                      <Badge value={e.state} />
                    </td>
                    <td>{e.kind}</td>
                    <td>{e.backend ?? '—'}</td>
                    <td>{e.key}</td>
                    <td title={fmtTime(since)}>{since ? fmtDuration(now - Date.parse(since)) : '—'}</td>
                    <td>
                      {e.job_id && <a href={`#/jobs/${e.job_id}`}>job {e.job_id.slice(0, 8)}</a>}
                      {e.session_id && (
                        <>
                          {' '}
                          <a href={`#/sessions/${e.session_id}`}>session {e.session_id.slice(0, 8)}</a>
                        </>
                      )}
                    </td>
                    <td>
                      <button type="button" class="danger" onClick={() => cancel(e.id)}>
                        Cancel
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>

      <section aria-labelledby="recent-h">
        <h2 id="recent-h">Recent jobs</h2>
        <ErrorBox error={jobs.error} onRetry={jobs.reload} />
        {jobs.data && jobs.data.jobs.length === 0 && (
          <Empty>
            No jobs yet. Start one from the <a href="#/playground">Playground</a>.
          </Empty>
        )}
        {jobs.data && jobs.data.jobs.length > 0 && (
          <ul class="plain" id="recent-jobs">
            {jobs.data.jobs.map((j) => (
              <li key={j.id}>
                <Badge value={j.status} /> <a href={`#/jobs/${j.id}`}>{j.summary || j.id}</a>{' '}
                <span class="muted">
                  {j.backend ?? j.operation} · {fmtTime(j.created_at)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
