/** Sessions: list with filters, one session's details, and continuing it with a streamed answer. */
import { useState } from 'preact/hooks';
import { call, query, type SessionInfo } from '../api';
import { useApp } from '../context';
import { RunView, useStreamRun } from '../run';
import { Badge, Empty, ErrorBox, fmtNum, fmtTime, useApi } from '../ui';

const PAGE = 25;

export function SessionsPage() {
  const { keyVersion } = useApp();
  const [backend, setBackend] = useState('');
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const [offset, setOffset] = useState(0);
  const list = useApi(
    (signal) =>
      call<{ sessions: SessionInfo[]; total: number; limit: number; offset: number }>(
        `/api/v1/sessions${query({ backend, status, limit: PAGE, offset })}`,
        { signal },
      ),
    [keyVersion, backend, status, offset],
    10000,
  );
  const needle = text.trim().toLowerCase();
  const rows = (list.data?.sessions ?? []).filter(
    (s) =>
      !needle ||
      [s.id, s.title, s.initial_prompt, s.working_dir, s.model].some((v) => (v ?? '').toLowerCase().includes(needle)),
  );
  const d = list.data;
  return (
    <div class="page" id="page-sessions">
      <h1>Sessions</h1>
      <form class="filters" aria-label="Filter sessions" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="s-backend">Backend</label>
          <select
            id="s-backend"
            value={backend}
            onChange={(e) => {
              setBackend((e.target as HTMLSelectElement).value);
              setOffset(0);
            }}
          >
            {['', 'claude', 'codex', 'gemini'].map((b) => (
              <option key={b} value={b}>
                {b || 'any'}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="s-status">Status</label>
          <select
            id="s-status"
            value={status}
            onChange={(e) => {
              setStatus((e.target as HTMLSelectElement).value);
              setOffset(0);
            }}
          >
            {['', 'active', 'completed', 'error', 'paused'].map((b) => (
              <option key={b} value={b}>
                {b || 'any'}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="s-text">Contains (this page)</label>
          <input
            id="s-text"
            type="search"
            value={text}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
          />
        </div>
      </form>
      <ErrorBox error={list.error} onRetry={list.reload} />
      {d && rows.length === 0 && <Empty>No sessions match.</Empty>}
      {d && rows.length > 0 && (
        <table id="sessions">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Backend</th>
              <th scope="col">Status</th>
              <th scope="col">Turns</th>
              <th scope="col">Title / first prompt</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id} data-session={s.id}>
                <td class="mono">
                  <a href={`#/sessions/${s.id}`}>{s.id.slice(0, 12)}</a>
                </td>
                <td>{s.backend}</td>
                <td>{s.status ? <Badge value={s.status} /> : '—'}</td>
                <td>{s.turn_count ?? '—'}</td>
                <td class="clip">{s.title ?? s.initial_prompt ?? ''}</td>
                <td>{fmtTime(s.last_used)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d && d.total > PAGE && (
        <div class="pager">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Newer
          </button>
          <span>
            {d.offset + 1}–{d.offset + d.sessions.length} of {d.total}
          </span>
          <button type="button" disabled={offset + PAGE >= d.total} onClick={() => setOffset(offset + PAGE)}>
            Older
          </button>
        </div>
      )}
    </div>
  );
}

export function SessionDetail({ id }: { id: string }) {
  const { keyVersion } = useApp();
  const s = useApi(
    (signal) => call<SessionInfo>(`/api/v1/sessions/${encodeURIComponent(id)}`, { signal }),
    [id, keyVersion],
  );
  const run = useStreamRun(() => s.reload());
  const [prompt, setPrompt] = useState('');
  const [deleted, setDeleted] = useState(false);
  const [delError, setDelError] = useState<unknown>(undefined);
  const info = s.data;

  const remove = async () => {
    if (!confirm('Delete this session?')) return;
    try {
      await call(`/api/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
      setDeleted(true);
    } catch (err) {
      setDelError(err);
    }
  };

  return (
    <div class="page" id="page-session">
      <p>
        <a href="#/sessions">← Sessions</a>
      </p>
      <h1>
        Session <span class="mono">{id.slice(0, 12)}</span>
      </h1>
      <ErrorBox error={s.error} onRetry={s.reload} />
      <ErrorBox error={delError} />
      {deleted && <p role="status">Session deleted.</p>}
      {info && !deleted && (
        <>
          <dl class="facts" id="session-facts">
            <dt>Id</dt>
            <dd class="mono">{info.id}</dd>
            <dt>Backend</dt>
            <dd>{info.backend}</dd>
            <dt>Status</dt>
            <dd>{info.status ? <Badge value={info.status} /> : '—'}</dd>
            <dt>Turns</dt>
            <dd id="session-turns">{info.turn_count ?? 0}</dd>
            <dt>Model</dt>
            <dd>{info.model ?? '—'}</dd>
            <dt>Working directory</dt>
            <dd class="mono">{info.working_dir ?? '—'}</dd>
            <dt>Tokens</dt>
            <dd>
              {info.token_usage
                ? `${fmtNum(info.token_usage.input_tokens)} in / ${fmtNum(info.token_usage.output_tokens)} out`
                : '—'}
            </dd>
            <dt>Created</dt>
            <dd>{fmtTime(info.created_at)}</dd>
            <dt>Last used</dt>
            <dd>{fmtTime(info.last_used)}</dd>
            {info.title && (
              <>
                <dt>Title</dt>
                <dd>{info.title}</dd>
              </>
            )}
            {info.initial_prompt && (
              <>
                <dt>First prompt</dt>
                <dd class="pre">{info.initial_prompt}</dd>
              </>
            )}
            {info.error_message && (
              <>
                <dt>Error</dt>
                <dd>{info.error_message}</dd>
              </>
            )}
          </dl>
          <form
            class="stack"
            aria-label="Continue the session"
            onSubmit={(e) => {
              e.preventDefault();
              if (prompt.trim()) run.start({ session_id: info.id, prompt });
            }}
          >
            <h2>Continue</h2>
            <label for="continue-prompt">Prompt</label>
            <textarea
              id="continue-prompt"
              rows={4}
              value={prompt}
              onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)}
            />
            <div class="actions">
              <button type="submit" class="primary" id="continue-run" disabled={run.state.running || !prompt.trim()}>
                Send
              </button>
              {run.state.running && (
                <button type="button" onClick={run.stop}>
                  Stop
                </button>
              )}
              <button type="button" class="danger" onClick={remove} disabled={run.state.running}>
                Delete session
              </button>
            </div>
          </form>
          <RunView state={run.state} idPrefix="continue" />
        </>
      )}
    </div>
  );
}
