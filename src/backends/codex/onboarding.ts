/** Install, version and credential facts of the Codex CLI (see `../onboarding.ts`). */
import type { BackendOnboarding } from '../onboarding';

const codexHome = (name: string) => ({ dirEnv: 'CODEX_HOME', defaultDir: '.codex', name });

export const CODEX_ONBOARDING: BackendOnboarding = {
  package: '@openai/codex',
  pinnedVersion: '0.171.0',
  verified: { min: '0.170.0', below: '0.180.0', label: '0.17x' },
  versionPattern: /codex-cli (\d+\.\d+\.\d+)/,
  credentials: [
    { kind: 'env', name: 'OPENAI_API_KEY' },
    { kind: 'file', file: codexHome('auth.json'), note: "written by 'codex login'" },
    { kind: 'toml-env-key', file: codexHome('config.toml'), note: 'custom model_provider env_key' },
  ],
  login:
    "run 'codex login' ('codex login --device-auth' on a headless machine; 'codex login status' shows the state), or set OPENAI_API_KEY",
};
