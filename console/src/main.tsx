/**
 * The clinvk operator console: a single page on the server's own origin that uses only the public API.
 * Routing lives in the URL fragment (#/jobs/<id>), so a reload stays on the same page; the API key
 * never appears in a URL.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, call, getKey, onUnauthorized, setKey, type Me } from './api';
import { AppContext } from './context';
import { JobDetail, JobsPage } from './pages/jobs';
import { OverviewPage } from './pages/overview';
import { PlaygroundPage } from './pages/playground';
import { SessionDetail, SessionsPage } from './pages/sessions';
import { UsagePage } from './pages/usage';

function useRoute(): string[] {
  const parse = () =>
    (location.hash.replace(/^#\/?/, '') || 'overview')
      .split('/')
      .filter(Boolean)
      .map((p) => decodeURIComponent(p));
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV: [string, string][] = [
  ['overview', 'Overview'],
  ['jobs', 'Jobs'],
  ['sessions', 'Sessions'],
  ['usage', 'Usage'],
  ['playground', 'Playground'],
];

function KeyDialog({
  reason,
  onSave,
  onClose,
}: {
  reason?: string;
  onSave: (k: string) => void;
  onClose?: () => void;
}) {
  const [value, setValue] = useState('');
  return (
    <div
      class="dialog-backdrop"
      role="dialog"
      aria-modal="true"
      aria-labelledby="key-title"
      onKeyDown={(e) => {
        if (e.key === 'Escape' && onClose) onClose();
      }}
    >
      <form
        class="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onSave(value.trim());
        }}
      >
        <h2 id="key-title">API key</h2>
        {reason && (
          <p class="error" role="alert">
            {reason}
          </p>
        )}
        <p class="muted">
          The key stays in this tab (sessionStorage) and is sent only to this server, in the Authorization header.
        </p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          autoFocus
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
        />
        <div class="actions">
          <button type="submit" class="primary" disabled={!value.trim()}>
            Use key
          </button>
          {onClose && (
            <button type="button" onClick={onClose}>
              Cancel
            </button>
          )}
        </div>
      </form>
    </div>
  );
}

function App() {
  const route = useRoute();
  const [keyVersion, setKeyVersion] = useState(0);
  const [askKey, setAskKey] = useState<{ reason?: string } | undefined>(undefined);
  const [me, setMe] = useState<Me | undefined>(undefined);

  useEffect(
    () =>
      onUnauthorized((f) =>
        setAskKey({
          reason: getKey() ? `The server refused this key: ${f.message}.` : 'This server needs an API key.',
        }),
      ),
    [],
  );
  useEffect(() => {
    const ac = new AbortController();
    call<Me>('/api/v1/me', { signal: ac.signal }).then(
      (m) => setMe(m),
      (err) => {
        if (!(err instanceof ApiFailure) || err.status !== 401) setMe(undefined);
      },
    );
    return () => ac.abort();
  }, [keyVersion]);

  const page = route[0] ?? 'overview';
  const id = route[1];
  let content;
  if (page === 'jobs' && id) content = <JobDetail key={id} id={id} />;
  else if (page === 'jobs') content = <JobsPage />;
  else if (page === 'sessions' && id) content = <SessionDetail key={id} id={id} />;
  else if (page === 'sessions') content = <SessionsPage />;
  else if (page === 'usage') content = <UsagePage />;
  else if (page === 'playground') content = <PlaygroundPage />;
  else content = <OverviewPage />;

  return (
    <AppContext.Provider value={{ me, keyVersion }}>
      <header class="top">
        <a class="brand" href="#/overview">
          clinvk console
        </a>
        <nav aria-label="Pages">
          {NAV.map(([p, label]) => (
            <a key={p} href={`#/${p}`} aria-current={page === p ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          {me && (
            <span id="whoami">
              {me.name} ({me.role})
            </span>
          )}
          {/* with auth off every caller is `anonymous`: there is no key to enter */}
          {(getKey() || me?.name !== 'anonymous') && (
            <button type="button" id="key-button" onClick={() => setAskKey({})}>
              {getKey() ? 'Change key' : 'Enter key'}
            </button>
          )}
          {getKey() && (
            <button
              type="button"
              onClick={() => {
                setKey('');
                setKeyVersion((v) => v + 1);
              }}
            >
              Forget key
            </button>
          )}
        </div>
      </header>
      <main id="main" key={keyVersion}>
        {content}
      </main>
      {askKey && (
        <KeyDialog
          reason={askKey.reason}
          onSave={(k) => {
            setKey(k);
            setAskKey(undefined);
            setKeyVersion((v) => v + 1);
          }}
          onClose={() => setAskKey(undefined)}
        />
      )}
    </AppContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
