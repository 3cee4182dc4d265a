/** Gemini CLI through clinvk against the fake provider (Gemini API). */
import { backendSuite } from './backend-suite';

// A 4xx: gemini retries 5xx and 429 with back-off for over a minute. Its shell tool is only offered
// with --approval-mode=yolo (approval `none`). Start-up takes 4-7 s, hence the longer deadline.
backendSuite('gemini', { errorStatus: 400, timeoutSecs: 20, toolApproval: 'none', toolName: 'run_shell_command' });
