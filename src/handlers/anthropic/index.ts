/** Anthropic-compatible operations; `*V1` are the `/anthropic/v1/v1/*` aliases. */
import type { Context } from 'openapi-backend';
import type { SchemaAnthropicMessageRequest } from '../../../generated/types';
import { AnthropicStreamEncoder } from '../../compat/anthropic/stream-encoder';
import { anthropicMessageId, anthropicModel, anthropicModelList } from '../../compat/models';
import { planCompatRun } from '../../compat/request';
import { anthropicMessage } from '../../compat/responses';
import { anthropicTranscript } from '../../compat/transcript';
import { ApiError } from '../../errors';
import { sendJson } from '../../http/respond';
import type { Services } from '../../services';
import { principalOf } from '../../http/request-context';
import { compatKey, executeCompat, markIgnoredParams } from '../openai/compat-run';
import type { HandlerFn } from '../../http/handler';

/** The request body as generated from the contract (lenient: unknown fields allowed). */
type MessageRequest = SchemaAnthropicMessageRequest & { [k: string]: unknown };

export function anthropicHandlers(s: Services): Record<string, HandlerFn> {
  const listModels: HandlerFn = (_c, _req, res) =>
    sendJson(res, 200, anthropicModelList(s.config, s.status.startedAt, principalOf(res)));

  const getModel: HandlerFn = (c: Context, _req, res) => {
    const id = String(c.request.params.model_id);
    const model = anthropicModel(s.config, s.status.startedAt, id, principalOf(res));
    if (!model) throw new ApiError('model_not_found', `model: ${id}`);
    sendJson(res, 200, model);
  };

  const createMessage: HandlerFn = async (c: Context, _req, res) => {
    const body = c.request.requestBody as MessageRequest;
    markIgnoredParams(s, res, body, 'anthropic');
    const stream = body.stream === true;
    const run = planCompatRun(s.config, body.model, () => anthropicTranscript(body), stream, compatKey(s, res));
    const id = anthropicMessageId();
    if (stream) {
      const encoder = new AnthropicStreamEncoder({ id, model: body.model, promptText: run.promptText });
      await executeCompat(s, res, run, { encoder });
      return;
    }
    await executeCompat(s, res, run, {
      toBody: (result) => anthropicMessage({ id, model: body.model, promptText: run.promptText, result }),
    });
  };

  return {
    anthropicCreateMessage: createMessage,
    anthropicCreateMessageV1: createMessage,
    anthropicListModels: listModels,
    anthropicListModelsV1: listModels,
    anthropicGetModel: getModel,
    anthropicGetModelV1: getModel,
  };
}
