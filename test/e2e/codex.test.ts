/** Codex CLI through clinvk against the fake provider (OpenAI Responses API). */
import { backendSuite } from './backend-suite';

// No tool run: codex's shell tool is a grammar-based custom tool that a simple fake cannot drive.
backendSuite('codex', { errorStatus: 400, timeoutSecs: 8 });
