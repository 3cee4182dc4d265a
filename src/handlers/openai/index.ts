/** OpenAI-compatible operations. */
import type { Context } from 'openapi-backend';
import type { SchemaOpenAiChatCompletionRequest } from '../../../generated/types';
import { chatCompletionId, openaiModel, openaiModelList } from '../../compat/models';
import { OpenAIStreamEncoder } from '../../compat/openai/stream-encoder';
import { planCompatRun } from '../../compat/request';
import { openaiChatCompletion } from '../../compat/responses';
import { openaiTranscript } from '../../compat/transcript';
import { ApiError } from '../../errors';
import { sendJson } from '../../http/respond';
import type { Services } from '../../services';
import type { HandlerFn } from '../../http/handler';
import { principalOf } from '../../http/request-context';
import { compatKey, executeCompat, markIgnoredParams } from './compat-run';

/** The request body as generated from the contract (lenient: unknown fields allowed). */
type ChatCompletionRequest = SchemaOpenAiChatCompletionRequest & { [k: string]: unknown };

export function openaiHandlers(s: Services): Record<string, HandlerFn> {
  return {
    openaiListModels: (_c, _req, res) =>
      sendJson(res, 200, openaiModelList(s.config, s.status.startedAt, principalOf(res))),

    openaiGetModel: (c: Context, _req, res) => {
      const id = String(c.request.params.model);
      const model = openaiModel(s.config, s.status.startedAt, id, principalOf(res));
      if (!model) throw new ApiError('model_not_found', `The model '${id}' does not exist`);
      sendJson(res, 200, model);
    },

    openaiChatCompletions: async (c: Context, _req, res) => {
      const body = c.request.requestBody as ChatCompletionRequest;
      const created = Math.floor(Date.now() / 1000);
      markIgnoredParams(s, res, body, 'openai');
      const stream = body.stream === true;
      const run = planCompatRun(s.config, body.model, () => openaiTranscript(body.messages), stream, compatKey(s, res));
      const id = chatCompletionId();
      if (stream) {
        const encoder = new OpenAIStreamEncoder({
          id,
          created,
          model: body.model,
          includeUsage: body.stream_options?.include_usage === true,
          promptText: run.promptText,
        });
        await executeCompat(s, res, run, { encoder });
        return;
      }
      await executeCompat(s, res, run, {
        toBody: (result) =>
          openaiChatCompletion({ id, created, model: body.model, promptText: run.promptText, result }),
      });
    },
  };
}
