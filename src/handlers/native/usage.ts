/** GET /api/v1/usage and GET /api/v1/me: the caller's view of usage (a user key sees only its own). */
import { principalOf } from '../../http/request-context';
import { sendData } from '../../http/respond';
import { currentKey, usageReport, type UsageParams } from '../../usage/report';
import type { UsageService } from '../../usage/service';
import type { HandlerFn } from '../../http/handler';

export function getUsage(usage: UsageService): HandlerFn {
  return async (c, _req, res) => {
    sendData(res, await usageReport(usage, c.request.query as UsageParams, principalOf(res)));
  };
}

export function getCurrentKey(usage: UsageService): HandlerFn {
  return async (_c, _req, res) => {
    sendData(res, await currentKey(usage, principalOf(res)));
  };
}
