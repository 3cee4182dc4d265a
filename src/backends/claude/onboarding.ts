/** Install, version and credential facts of Claude Code (see `../onboarding.ts`). */
import type { BackendOnboarding } from '../onboarding';

const configDir = (name: string) => ({ dirEnv: 'CLAUDE_CONFIG_DIR', defaultDir: '.claude', name });

export const CLAUDE_ONBOARDING: BackendOnboarding = {
  package: '@anthropic-ai/claude-code',
  pinnedVersion: '2.1.197',
  verified: { min: '2.1.0', below: '2.2.0', label: '2.1.x' },
  versionPattern: /(\d+\.\d+\.\d+) \(Claude Code\)/,
  credentials: [
    { kind: 'env', name: 'ANTHROPIC_API_KEY' },
    { kind: 'env', name: 'ANTHROPIC_AUTH_TOKEN' },
    { kind: 'env', name: 'CLAUDE_CODE_OAUTH_TOKEN', note: "from 'claude setup-token'" },
    { kind: 'env-equals', name: 'CLAUDE_CODE_USE_BEDROCK', value: '1', note: 'with AWS credentials' },
    { kind: 'env-equals', name: 'CLAUDE_CODE_USE_VERTEX', value: '1', note: 'with Google Cloud credentials' },
    { kind: 'json-key', file: configDir('settings.json'), key: 'apiKeyHelper' },
    { kind: 'file', file: configDir('.credentials.json'), note: 'subscription login (on macOS: the Keychain)' },
  ],
  login:
    "run 'claude' once and type /login, or set ANTHROPIC_API_KEY, or run 'claude setup-token' and set CLAUDE_CODE_OAUTH_TOKEN",
};
