/** POST /api/v1/parallel, /api/v1/chain, /api/v1/compare (executeParallel, executeChain, executeCompare). */
import type { SchemaChainRequest, SchemaCompareRequest, SchemaParallelRequest } from '../../../generated/types';
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import { AggregateService } from '../../execution/aggregate';
import { execContext } from '../../http/exec-context';
import { sendData } from '../../http/respond';
import type { Services } from '../../services';
import type { HandlerFn } from '../../http/handler';

export function executeParallel(service: AggregateService): HandlerFn {
  return async (c: Context, _req: Request, res: Response) => {
    sendData(res, await service.parallel(c.request.requestBody as SchemaParallelRequest, execContext(res)));
  };
}

export function executeChain(service: AggregateService): HandlerFn {
  return async (c: Context, _req: Request, res: Response) => {
    sendData(res, await service.chain(c.request.requestBody as SchemaChainRequest, execContext(res)));
  };
}

export function executeCompare(service: AggregateService): HandlerFn {
  return async (c: Context, _req: Request, res: Response) => {
    sendData(res, await service.compare(c.request.requestBody as SchemaCompareRequest, execContext(res)));
  };
}

export function aggregateHandlers(s: Services): Record<string, HandlerFn> {
  const service = s.aggregates;
  return {
    executeParallel: executeParallel(service),
    executeChain: executeChain(service),
    executeCompare: executeCompare(service),
  };
}
