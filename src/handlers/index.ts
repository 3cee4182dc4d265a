/** One thin handler per operationId routed by openapi-backend. */
import type { Services } from '../services';
import { anthropicHandlers } from './anthropic';
import { openaiHandlers } from './openai';
import { aggregateHandlers } from './native/aggregate';
import { executePrompt, streamPrompt } from './native/execute-prompt';
import { cancelExecution, listExecutions } from './native/executions';
import { jobHandlers } from './native/jobs';
import { deleteSession, getSession, listSessions } from './native/sessions';
import { healthCheck, listBackends } from './native/status';
import { getCurrentKey, getUsage } from './native/usage';
import type { HandlerFn } from '../http/handler';

export function buildHandlers(s: Services): Record<string, HandlerFn> {
  const staleClaimMs = (s.config.server.request_timeout_secs + 60) * 1000;
  return {
    executePrompt: executePrompt(s.prompt),
    streamPrompt: streamPrompt(s.prompt),
    listBackends: listBackends(s.status),
    healthCheck: healthCheck(s.status),
    listSessions: listSessions(s.store),
    getSession: getSession(s.store),
    deleteSession: deleteSession(s.store, staleClaimMs),
    ...aggregateHandlers(s),
    ...jobHandlers(s.jobs, s.config),
    listExecutions: listExecutions(s.executions),
    cancelExecution: cancelExecution(s.executions),
    getUsage: getUsage(s.usage),
    getCurrentKey: getCurrentKey(s.usage),
    ...openaiHandlers(s),
    ...anthropicHandlers(s),
  };
}
