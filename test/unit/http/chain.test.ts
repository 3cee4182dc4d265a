import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { chain } from '../../../src/http/middleware/chain';

function appWith(...handlers: express.RequestHandler[]) {
  const app = express();
  app.use(chain(handlers));
  app.get('/after', (_req, res) => {
    res.json({ reached: 'next layer', seen: res.locals.seen });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
  });
  return app;
}

const mark = (name: string) => (_req: Request, res: Response, next: NextFunction) => {
  res.locals.seen = [...((res.locals.seen as string[] | undefined) ?? []), name];
  next();
};

test('runs the middleware in order, then Express continues with the next layer', async () => {
  const res = await request(appWith(mark('a'), mark('b'))).get('/after');
  expect(res.body).toEqual({ reached: 'next layer', seen: ['a', 'b'] });
});

test('next(err), a throw and a rejected promise leave the list for the error handlers', async () => {
  const skipped = mark('never');
  for (const failing of [
    (_req: Request, _res: Response, next: NextFunction) => next(new Error('passed')),
    () => {
      throw new Error('thrown');
    },
    async () => {
      await Promise.resolve();
      throw new Error('rejected');
    },
  ]) {
    const res = await request(appWith(mark('a'), failing, skipped)).get('/after');
    expect(res.status).toBe(500);
    expect(['passed', 'thrown', 'rejected']).toContain(res.body.error);
  }
});

test('a middleware that answers ends the request', async () => {
  const res = await request(appWith((_req, res) => void res.status(204).end(), mark('never'))).get('/after');
  expect(res.status).toBe(204);
});
