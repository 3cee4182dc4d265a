/** Install, version and credential facts of the Gemini CLI (see `../onboarding.ts`). */
import type { BackendOnboarding } from '../onboarding';

const geminiDir = (name: string) => ({ defaultDir: '.gemini', name });

export const GEMINI_ONBOARDING: BackendOnboarding = {
  package: '@google/gemini-cli',
  pinnedVersion: '0.61.0',
  verified: { min: '0.61.0', below: '0.62.0', label: '0.61.x' },
  versionPattern: /^(\d+\.\d+\.\d+)\s*$/m,
  credentials: [
    { kind: 'env', name: 'GEMINI_API_KEY' },
    { kind: 'env-with', name: 'GOOGLE_API_KEY', with: 'GOOGLE_GENAI_USE_VERTEXAI', value: 'true', note: 'Vertex AI' },
    { kind: 'env', name: 'GOOGLE_APPLICATION_CREDENTIALS', note: 'service account' },
    { kind: 'file', file: geminiDir('oauth_creds.json'), note: 'Google sign-in' },
    {
      kind: 'json-key',
      file: geminiDir('settings.json'),
      key: 'security.auth.selectedType',
      note: 'chosen sign-in method',
      showValue: true,
    },
  ],
  login: "run 'gemini' once and pick a sign-in method, or set GEMINI_API_KEY",
};
