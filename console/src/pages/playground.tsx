/**
 * Playground: pick backend, model, workdir and modes, type a prompt, run it as a stream or as a job,
 * and see the argv a run would use (a dry run executes nothing).
 */
import { useState } from 'preact/hooks';
import { call, type BackendInfo, type Job, type Schemas } from '../api';
import { useApp } from '../context';
import { RunView, useStreamRun } from '../run';
import { ErrorBox, useApi } from '../ui';

type ExecResult = Schemas['ExecutionResult'];

const APPROVAL = ['default', 'auto', 'none', 'always'];
const SANDBOX = ['default', 'read-only', 'workspace', 'full'];
const FORM_ITEM = 'clinvk.console.playground';

interface Form {
  backend: string;
  model: string;
  workdir: string;
  approval_mode: string;
  sandbox_mode: string;
  ephemeral: boolean;
  dry_run: boolean;
  mode: 'stream' | 'job';
  prompt: string;
}

const DEFAULT_FORM: Form = {
  backend: '',
  model: '',
  workdir: '',
  approval_mode: 'default',
  sandbox_mode: 'default',
  ephemeral: false,
  dry_run: false,
  mode: 'stream',
  prompt: '',
};

function loadForm(): Form {
  try {
    return { ...DEFAULT_FORM, ...(JSON.parse(sessionStorage.getItem(FORM_ITEM) ?? '{}') as Partial<Form>) };
  } catch {
    return DEFAULT_FORM;
  }
}

export function PlaygroundPage() {
  const { keyVersion } = useApp();
  const backends = useApi((signal) => call<{ backends: BackendInfo[] }>('/api/v1/backends', { signal }), [keyVersion]);
  const [form, setForm] = useState<Form>(loadForm);
  const [argv, setArgv] = useState<ExecResult | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [submitting, setSubmitting] = useState(false);
  const run = useStreamRun();
  const list = backends.data?.backends ?? [];
  const backend = form.backend || list.find((b) => b.available)?.name || 'claude';

  const update = <K extends keyof Form>(k: K, v: Form[K]) => {
    const next = { ...form, [k]: v };
    setForm(next);
    try {
      sessionStorage.setItem(FORM_ITEM, JSON.stringify(next));
    } catch {}
  };

  const request = (): Record<string, unknown> => {
    const r: Record<string, unknown> = { backend, prompt: form.prompt };
    if (form.model.trim()) r.model = form.model.trim();
    if (form.workdir.trim()) r.workdir = form.workdir.trim();
    if (form.approval_mode !== 'default') r.approval_mode = form.approval_mode;
    if (form.sandbox_mode !== 'default') r.sandbox_mode = form.sandbox_mode;
    if (form.ephemeral) r.ephemeral = true;
    if (form.dry_run) r.dry_run = true;
    return r;
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    if (form.mode === 'stream') {
      run.start(request());
      return;
    }
    setSubmitting(true);
    try {
      const job = await call<Job>('/api/v1/jobs', {
        method: 'POST',
        body: { operation: 'prompt', request: request() },
      });
      location.hash = `#/jobs/${job.id}`;
    } catch (err) {
      setError(err);
    }
    setSubmitting(false);
  };

  const dryRun = async () => {
    setError(undefined);
    setArgv(undefined);
    try {
      setArgv(
        await call<ExecResult>('/api/v1/prompt', {
          method: 'POST',
          body: { ...request(), dry_run: true, ephemeral: true },
        }),
      );
    } catch (err) {
      setError(err);
    }
  };

  const canRun = form.prompt.trim() !== '' && !run.state.running && !submitting;
  return (
    <div class="page" id="page-playground">
      <h1>Playground</h1>
      <ErrorBox error={backends.error} onRetry={backends.reload} />
      <form class="stack" aria-label="Run a prompt" onSubmit={submit}>
        <div class="grid">
          <div class="field">
            <label for="p-backend">Backend</label>
            <select
              id="p-backend"
              value={backend}
              onChange={(e) => update('backend', (e.target as HTMLSelectElement).value)}
            >
              {(list.length ? list.map((b) => b.name) : ['claude', 'codex', 'gemini']).map((name) => {
                const b = list.find((x) => x.name === name);
                return (
                  <option key={name} value={name}>
                    {name}
                    {b && !b.available ? ' (unavailable)' : ''}
                  </option>
                );
              })}
            </select>
          </div>
          <div class="field">
            <label for="p-model">Model</label>
            <input
              id="p-model"
              placeholder={list.find((b) => b.name === backend)?.model ?? 'backend default'}
              value={form.model}
              onInput={(e) => update('model', (e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field wide">
            <label for="p-workdir">Working directory</label>
            <input
              id="p-workdir"
              class="mono"
              placeholder="server default"
              value={form.workdir}
              onInput={(e) => update('workdir', (e.target as HTMLInputElement).value)}
            />
          </div>
          <div class="field">
            <label for="p-approval">Approval mode</label>
            <select
              id="p-approval"
              value={form.approval_mode}
              onChange={(e) => update('approval_mode', (e.target as HTMLSelectElement).value)}
            >
              {APPROVAL.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="p-sandbox">Sandbox mode</label>
            <select
              id="p-sandbox"
              value={form.sandbox_mode}
              onChange={(e) => update('sandbox_mode', (e.target as HTMLSelectElement).value)}
            >
              {SANDBOX.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </div>
        </div>
        <fieldset class="inline-group">
          <legend>Run as</legend>
          <label class="inline">
            <input
              type="radio"
              name="p-mode"
              id="p-mode-stream"
              checked={form.mode === 'stream'}
              onChange={() => update('mode', 'stream')}
            />{' '}
            stream (answer arrives as it is written)
          </label>
          <label class="inline">
            <input
              type="radio"
              name="p-mode"
              id="p-mode-job"
              checked={form.mode === 'job'}
              onChange={() => update('mode', 'job')}
            />{' '}
            job (survives this page; follow it on its job page)
          </label>
          <label class="inline">
            <input
              type="checkbox"
              id="p-ephemeral"
              checked={form.ephemeral}
              onChange={(e) => update('ephemeral', (e.target as HTMLInputElement).checked)}
            />{' '}
            ephemeral (no session)
          </label>
          <label class="inline">
            <input
              type="checkbox"
              id="p-dryrun"
              checked={form.dry_run}
              onChange={(e) => update('dry_run', (e.target as HTMLInputElement).checked)}
            />{' '}
            dry run (run nothing, answer the command)
          </label>
        </fieldset>
        <label for="p-prompt">Prompt</label>
        <textarea
          id="p-prompt"
          rows={5}
          value={form.prompt}
          onInput={(e) => update('prompt', (e.target as HTMLTextAreaElement).value)}
        />
        <div class="actions">
          <button type="submit" class="primary" id="p-run" disabled={!canRun}>
            {form.mode === 'stream' ? 'Run' : 'Start job'}
          </button>
          <button type="button" id="p-dry" disabled={!form.prompt.trim()} onClick={dryRun}>
            Show argv (dry run)
          </button>
          {run.state.running && (
            <button type="button" id="p-stop" onClick={run.stop}>
              Stop
            </button>
          )}
        </div>
      </form>
      <ErrorBox error={error} />
      {argv && (
        <section aria-label="Dry run">
          <h2>Command</h2>
          <ol class="argv" id="p-argv">
            {(argv.command ?? []).map((a, i) => (
              <li key={i}>
                <code>{a}</code>
              </li>
            ))}
          </ol>
          <p class="muted">
            in <span class="mono">{argv.working_dir}</span> — nothing was run.
          </p>
        </section>
      )}
      <RunView state={run.state} idPrefix="p" />
    </div>
  );
}
