/**
 * Jobs: the list with filters, and one job's page that follows its events live (SSE over fetch),
 * resumes after a dropped connection or a reload with Last-Event-ID, and can cancel the job.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, describe, isAbort, query, type Job, type StreamEvent } from '../api';
import { useApp } from '../context';
import { followJob, isTerminal, type FollowState } from '../stream';
import { Badge, Empty, ErrorBox, fmtDuration, fmtTime, Output, summarize, useApi, useNow } from '../ui';

const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'canceled'];
const OPERATIONS = ['', 'prompt', 'parallel', 'chain', 'compare'];
const BACKENDS = ['', 'claude', 'codex', 'gemini'];
const PAGE = 25;

function Select({
  id,
  label,
  value,
  options,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  options: string[];
  onChange: (v: string) => void;
}) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option key={o} value={o}>
            {o || 'any'}
          </option>
        ))}
      </select>
    </div>
  );
}

export function JobsPage() {
  const { keyVersion, me } = useApp();
  const [status, setStatus] = useState('');
  const [operation, setOperation] = useState('');
  const [backend, setBackend] = useState('');
  const [owner, setOwner] = useState('');
  const [offset, setOffset] = useState(0);
  const admin = me?.role === 'admin';
  const list = useApi(
    (signal) =>
      call<{ jobs: Job[]; total: number; limit: number; offset: number }>(
        `/api/v1/jobs${query({ status, operation, backend, owner: admin ? owner.trim() : '', limit: PAGE, offset })}`,
        { signal },
      ),
    [keyVersion, status, operation, backend, owner, admin, offset],
    3000,
  );
  const set = (f: (v: string) => void) => (v: string) => {
    f(v);
    setOffset(0);
  };
  const d = list.data;
  return (
    <div class="page" id="page-jobs">
      <h1>Jobs</h1>
      <form class="filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <Select id="f-status" label="Status" value={status} options={STATUSES} onChange={set(setStatus)} />
        <Select
          id="f-operation"
          label="Operation"
          value={operation}
          options={OPERATIONS}
          onChange={set(setOperation)}
        />
        <Select id="f-backend" label="Backend" value={backend} options={BACKENDS} onChange={set(setBackend)} />
        {admin && (
          <div class="field">
            <label for="f-owner">Owner (key name)</label>
            <input id="f-owner" value={owner} onChange={(e) => set(setOwner)((e.target as HTMLInputElement).value)} />
          </div>
        )}
      </form>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {d && d.jobs.length === 0 && (
        <Empty>
          No jobs match. Run one from the <a href="#/playground">Playground</a> (“Run as job”).
        </Empty>
      )}
      {d && d.jobs.length > 0 && (
        <>
          <table id="jobs">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Summary</th>
                <th scope="col">Operation</th>
                <th scope="col">Backend</th>
                <th scope="col">Owner</th>
                <th scope="col">Created</th>
                <th scope="col">Events</th>
              </tr>
            </thead>
            <tbody>
              {d.jobs.map((j) => (
                <tr key={j.id} data-job={j.id}>
                  <td>
                    <Badge value={j.status} />
                  </td>
                  <td>
                    <a href={`#/jobs/${j.id}`}>{j.summary || j.id}</a>
                  </td>
                  <td>{j.operation}</td>
                  <td>{j.backend ?? '—'}</td>
                  <td>{j.owner}</td>
                  <td>{fmtTime(j.created_at)}</td>
                  <td>{j.events.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="pager">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Newer
            </button>
            <span>
              {d.offset + 1}–{d.offset + d.jobs.length} of {d.total}
            </span>
            <button type="button" disabled={offset + PAGE >= d.total} onClick={() => setOffset(offset + PAGE)}>
              Older
            </button>
          </div>
        </>
      )}
    </div>
  );
}

const CACHE_ITEM = 'clinvk.console.job-events';
const CACHE_MAX = 2000;

/** The events of the job last viewed, kept in this tab so a reload resumes instead of replaying. */
function loadCache(id: string): StreamEvent[] {
  try {
    const c = JSON.parse(sessionStorage.getItem(CACHE_ITEM) ?? 'null') as { id: string; events: StreamEvent[] } | null;
    return c && c.id === id && Array.isArray(c.events) ? c.events : [];
  } catch {
    return [];
  }
}

function saveCache(id: string, events: StreamEvent[]): void {
  try {
    sessionStorage.setItem(CACHE_ITEM, JSON.stringify({ id, events: events.slice(-CACHE_MAX) }));
  } catch {}
}

export function JobDetail({ id }: { id: string }) {
  const { keyVersion } = useApp();
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [events, setEvents] = useState<StreamEvent[]>(() => loadCache(id));
  const [follow, setFollow] = useState<FollowState | undefined>(undefined);
  const [cancelling, setCancelling] = useState(false);
  const eventsRef = useRef(events);
  const terminal = events.find(isTerminal);
  const done = !!terminal || (job !== undefined && ['succeeded', 'failed', 'canceled'].includes(job.status));
  const now = useNow(1000, !done);

  // `wait` holds the answer until the job is terminal (after its terminal event the record follows)
  const loadJob = (signal?: AbortSignal, wait?: number) =>
    call<Job>(`/api/v1/jobs/${encodeURIComponent(id)}${query({ wait })}`, { signal }).then(setJob, (err) => {
      if (!signal?.aborted && !isAbort(err)) setError(err);
    });

  // the record (status, timestamps) is re-read every 2 s until the job is over
  useEffect(() => {
    if (done && job) return;
    const ac = new AbortController();
    void loadJob(ac.signal);
    const t = setInterval(() => void loadJob(ac.signal), 2000);
    return () => {
      ac.abort();
      clearInterval(t);
    };
  }, [id, keyVersion, done]);

  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => saveCache(id, eventsRef.current);
    addEventListener('pagehide', flush);
    const start = eventsRef.current.length ? eventsRef.current[eventsRef.current.length - 1]!.sequence : 0;
    if (eventsRef.current.some(isTerminal)) return () => removeEventListener('pagehide', flush);
    followJob(
      id,
      start,
      (e) => {
        eventsRef.current = [...eventsRef.current, e];
        setEvents(eventsRef.current);
        if (!timer) {
          timer = setTimeout(() => {
            timer = undefined;
            flush();
          }, 200);
        }
        if (e.type === 'init') void loadJob(ac.signal);
        if (isTerminal(e)) void loadJob(ac.signal, 10);
      },
      setFollow,
      ac.signal,
    ).then(flush, (err) => {
      if (!ac.signal.aborted) setError(err);
    });
    return () => {
      ac.abort();
      if (timer) clearTimeout(timer);
      flush();
      removeEventListener('pagehide', flush);
    };
  }, [id, keyVersion]);

  const cancel = async () => {
    setCancelling(true);
    try {
      setJob(await call<Job>(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }));
    } catch (err) {
      setError(err);
    }
    setCancelling(false);
  };

  const text = events
    .filter((e) => e.type === 'message')
    .map((e) => String((e.content as { text?: string }).text ?? ''))
    .join('');
  const tools = events.filter((e) => e.type === 'tool_use');
  const lastTool = tools[tools.length - 1];
  const startedAt = job?.started_at ? Date.parse(job.started_at) : undefined;
  const endAt = job?.finished_at ? Date.parse(job.finished_at) : terminal ? Date.parse(terminal.timestamp) : now;
  const status = job?.status ?? 'unknown';
  const active = !done && (status === 'queued' || status === 'running');
  const shown = events.slice(-500);

  return (
    <div class="page" id="page-job">
      <p>
        <a href="#/jobs">← Jobs</a>
      </p>
      <h1>
        Job <span class="mono">{id.slice(0, 12)}</span>
      </h1>
      <ErrorBox error={error} />
      {job && (
        <dl class="facts" id="job-facts">
          <dt>Status</dt>
          <dd id="job-status" data-status={job.status}>
            <Badge value={job.status} />
            {job.error && <span class="muted"> {describe(new Error(`${job.error.code}: ${job.error.message}`))}</span>}
          </dd>
          <dt>Operation</dt>
          <dd>
            {job.operation}
            {job.backend ? ` · ${job.backend}` : ''}
          </dd>
          <dt>Summary</dt>
          <dd>{job.summary}</dd>
          <dt>Owner</dt>
          <dd>{job.owner}</dd>
          <dt>Elapsed</dt>
          <dd id="job-elapsed">{startedAt !== undefined ? fmtDuration(endAt - startedAt) : 'not started'}</dd>
          <dt>Events</dt>
          <dd id="job-event-count">{events.length}</dd>
          <dt>Latest tool call</dt>
          <dd id="job-last-tool">{lastTool ? summarize(lastTool) : '—'}</dd>
          {job.session_id && (
            <>
              <dt>Session</dt>
              <dd>
                <a href={`#/sessions/${job.session_id}`}>{job.session_id}</a>
              </dd>
            </>
          )}
        </dl>
      )}
      <div class="actions">
        {active && (
          <button type="button" class="danger" id="job-cancel" disabled={cancelling} onClick={cancel}>
            Cancel job
          </button>
        )}
        {follow && !follow.connected && !done && (
          <span class="muted" role="status">
            Connection lost, reconnecting (attempt {follow.attempts})…
          </span>
        )}
      </div>
      <h2>Output</h2>
      <Output text={text} id="job-output" live={!done} />
      <h2>Events</h2>
      {events.length === 0 && <Empty>{done ? 'No events.' : 'Waiting for the first event…'}</Empty>}
      {events.length > shown.length && <p class="muted">Showing the last {shown.length} events.</p>}
      {events.length > 0 && (
        <table id="job-events" class="events">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Content</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.sequence} data-seq={e.sequence} data-type={e.type}>
                <td>{e.sequence}</td>
                <td>{new Date(e.timestamp).toLocaleTimeString()}</td>
                <td>
                  {e.type}
                  {e.item !== undefined ? ` [${e.item}]` : ''}
                </td>
                <td class="content">{summarize(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
