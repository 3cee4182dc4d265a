/** Claude Code through clinvk against the fake provider (Anthropic Messages API). */
import { backendSuite } from './backend-suite';

// claude runs read-only shell commands such as `echo` under its default permission mode.
backendSuite('claude', { errorStatus: 500, timeoutSecs: 8, toolApproval: 'default', toolName: 'Bash' });
